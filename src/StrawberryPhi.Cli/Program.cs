using StrawberryPhi.Cli;

return await PhiApp.RunAsync(args, Console.Out, Console.Error, TimeProvider.System);
