using BenchmarkDotNet.Running;
using StrawberryPhi.Benchmarks;

// bench generate OUT MEGABYTES [SEED]   write a deterministic chat dataset of about MEGABYTES MB
// bench tokenizer FILE [THREADS] [REPEATS]  tokenizer-alone throughput on FILE's strings, 1..THREADS threads
// bench validate FILE [THREADS] [REPEATS]  warm in-process validation throughput, 1..THREADS threads
// bench preview FILE [RARE] [COMMON]       line index, random pages and search on FILE (the studio's preview)
// bench engine [SECONDS]                training and inference tokens/s of each local base model size
// bench engine-chat [MODEL] [REQUESTS] [CONCURRENCY] [MAX_TOKENS]  chat completions/s before and after the KV cache
// bench engine-overhead [EXAMPLES] [EPOCHS] [REPEATS]  a whole engine job against the bare training loop
// bench jobs [JOBS] [POINTS] [SAMPLES]   the studio: jobs list, a job page with many points, change → page latency
// bench gateway [REQUESTS]              what /api/v1 adds to a chat completion over calling the engine directly
// bench bundle [DATASETS] [MB] [JOBS] [EVENTS]  the migration bundle: export, import into a fresh studio, import again
// bench micro [BenchmarkDotNet args]    per-call micro-benchmarks
switch (args.FirstOrDefault())
{
    case "generate" when args.Length >= 3:
        DataGenerator.Generate(args[1], long.Parse(args[2]) * 1024 * 1024, args.Length > 3 ? int.Parse(args[3]) : 42);
        Console.WriteLine($"wrote {new FileInfo(args[1]).Length:N0} bytes to {args[1]}");
        return 0;
    case "tokenizer" when args.Length >= 2:
        TokenizerThroughput.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : Environment.ProcessorCount, args.Length > 3 ? int.Parse(args[3]) : 3);
        return 0;
    case "validate" when args.Length >= 2:
        ValidationThroughput.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : Environment.ProcessorCount, args.Length > 3 ? int.Parse(args[3]) : 3);
        return 0;
    case "cold" when args.Length >= 2:
        {
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            var counter = new StrawberryPhi.Core.Tokens.TokenCounter(StrawberryPhi.Core.Tokens.TokenEncoding.O200kBase);
            Console.WriteLine($"first TokenCounter (vocabulary + regex): {stopwatch.ElapsedMilliseconds} ms");
            stopwatch.Restart();
            counter.Count("Hello, world! 123 naïve café");
            Console.WriteLine($"first Count: {stopwatch.ElapsedMilliseconds} ms");
            stopwatch.Restart();
            _ = new StrawberryPhi.Core.Tokens.TokenCounter(StrawberryPhi.Core.Tokens.TokenEncoding.O200kBase).Count("Hello, world!");
            Console.WriteLine($"second TokenCounter + Count: {stopwatch.ElapsedMilliseconds} ms");
            stopwatch.Restart();
            var report = StrawberryPhi.Core.Validation.DatasetValidator.ValidateFile(args[1], new StrawberryPhi.Core.Validation.ValidationOptions());
            Console.WriteLine($"first ValidateFile: {stopwatch.ElapsedMilliseconds} ms ({report.Tokens.Total} tokens)");
            stopwatch.Restart();
            StrawberryPhi.Core.Validation.DatasetValidator.ValidateFile(args[1], new StrawberryPhi.Core.Validation.ValidationOptions());
            Console.WriteLine($"second ValidateFile: {stopwatch.ElapsedMilliseconds} ms");
            return 0;
        }
    case "preview" when args.Length >= 2:
        PreviewThroughput.Run(args[1], args.Length > 2 ? args[2] : "zebra", args.Length > 3 ? args[3] : "assistant");
        return 0;
    case "engine":
        EngineThroughput.Run(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10);
        return 0;
    case "engine-chat":
        await EngineChat.RunAsync(args.Length > 1 ? args[1] : "strawberry-small", args.Length > 2 ? int.Parse(args[2]) : 32,
            args.Length > 3 ? int.Parse(args[3]) : 4, args.Length > 4 ? int.Parse(args[4]) : 128);
        return 0;
    case "engine-overhead":
        await EngineOverhead.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 800, args.Length > 2 ? int.Parse(args[2]) : 2, args.Length > 3 ? int.Parse(args[3]) : 2);
        return 0;
    case "jobs":
        await JobsScale.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 10_000, args.Length > 2 ? int.Parse(args[2]) : 10_000, args.Length > 3 ? int.Parse(args[3]) : 40);
        return 0;
    case "gateway":
        await GatewayOverhead.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 300);
        return 0;
    case "bundle":
        await BundleScale.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 4, args.Length > 2 ? int.Parse(args[2]) : 25,
            args.Length > 3 ? int.Parse(args[3]) : 200, args.Length > 4 ? int.Parse(args[4]) : 500);
        return 0;
    case "micro":
        BenchmarkRunner.Run<MicroBenchmarks>(args: args[1..]);
        return 0;
    default:
        Console.Error.WriteLine("usage: bench generate OUT MEGABYTES [SEED] | bench tokenizer FILE [THREADS] [REPEATS] | bench micro [args]");
        return 2;
}
