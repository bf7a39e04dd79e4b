using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using StrawberryPhi.Core;
using StrawberryPhi.Core.Catalog;

namespace StrawberryPhi.Cli.Commands;

/// <summary><c>phi models</c>: the model catalog with limits, prices and shutdown dates.</summary>
internal static class ModelsCommand
{
    public static Command Create(CliContext context)
    {
        var format = CommonOptions.Format();
        var command = new Command("models", "List the fine-tunable models in the catalog, with limits, prices and shutdown dates.") { format };
        command.SetAction(parse =>
        {
            var catalog = ModelCatalog.Default;
            if (parse.GetValue(format) == "json")
            {
                context.Output.WriteLine(JsonSerializer.Serialize(ModelCatalogView.Of(catalog), CoreJson.Options));
                return ExitCodes.Ok;
            }
            var today = context.Today;
            var table = new Table().Border(TableBorder.Rounded).Title($"Model catalog of {catalog.AsOf:yyyy-MM-dd}")
                .AddColumn("model").AddColumn("providers").AddColumn("encoding").AddColumn(new TableColumn("token limit").RightAligned())
                .AddColumn("methods").AddColumn(new TableColumn("$ / 1M training").RightAligned()).AddColumn("shutdown");
            foreach (var model in catalog.Models)
            {
                var shutdown = model.ShutdownDate switch
                {
                    null => "",
                    { } d when d <= today => $"[red]{d:yyyy-MM-dd} (shut down)[/]",
                    { } d => $"[yellow]{d:yyyy-MM-dd}[/]",
                };
                table.AddRow(Markup.Escape(model.Id), string.Join(", ", model.Providers), model.Encoding, model.TrainingTokenLimit.ToString("N0"),
                    string.Join(", ", model.Methods), model.TrainingPricePer1M?.ToString("N2") ?? "–", shutdown);
            }
            context.Console.Write(table);
            foreach (var provider in catalog.Providers.Where(p => p.FineTuningNewJobsEnd is not null))
            {
                context.Console.MarkupLine($"[yellow]{Markup.Escape(provider.Name)} accepts no new fine-tuning jobs from {provider.FineTuningNewJobsEnd:yyyy-MM-dd}.[/]");
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
