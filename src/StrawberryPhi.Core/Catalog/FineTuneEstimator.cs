using System.Text.Json.Serialization;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Catalog;

/// <summary>A dated fact the user should know before training (a shutdown, an end of service).</summary>
public sealed record Notice(Severity Severity, string Code, string Message);

/// <summary>What training on a dataset is expected to take and cost.</summary>
public sealed record FineTuneEstimate(
    string Model,
    string Encoding,
    int TokenLimit,
    int Examples,
    int Epochs,
    long TokensPerEpoch,
    long BilledTokens,
    [property: JsonPropertyName("price_per_1m")] decimal? PricePer1M,
    decimal? CostUsd,
    DateOnly CatalogAsOf,
    IReadOnlyList<Notice> Notices);

/// <summary>The OpenAI Cookbook's epoch rule and billing estimate, with the catalog's limits and prices.</summary>
public static class FineTuneEstimator
{
    public const int TargetEpochs = 3;
    public const int MinTargetExamples = 100;
    public const int MaxTargetExamples = 25_000;
    public const int MinDefaultEpochs = 1;
    public const int MaxDefaultEpochs = 25;

    /// <summary>The Cookbook's recommended epochs for <paramref name="examples"/> training examples (integer division).</summary>
    public static int RecommendedEpochs(int examples)
    {
        if (examples <= 0)
        {
            return TargetEpochs;
        }
        if ((long)examples * TargetEpochs < MinTargetExamples)
        {
            return Math.Min(MaxDefaultEpochs, MinTargetExamples / examples);
        }
        if ((long)examples * TargetEpochs > MaxTargetExamples)
        {
            return Math.Max(MinDefaultEpochs, MaxTargetExamples / examples);
        }
        return TargetEpochs;
    }

    /// <param name="exampleTokens">Tokens per example; each is billed up to the model's limit.</param>
    /// <param name="epochs">Epochs to bill, or null for the recommended number.</param>
    public static FineTuneEstimate Estimate(
        CatalogModel model, ModelCatalog catalog, IReadOnlyCollection<int> exampleTokens, DateOnly today, int? epochs = null)
    {
        var tokensPerEpoch = 0L;
        foreach (var tokens in exampleTokens)
        {
            tokensPerEpoch += Math.Min(model.TrainingTokenLimit, tokens);
        }
        var chosenEpochs = epochs ?? RecommendedEpochs(exampleTokens.Count);
        var billed = tokensPerEpoch * chosenEpochs;
        // A model that is shut down cannot be trained: no cost is offered as if it could.
        decimal? cost = model.TrainingPricePer1M is { } price && !model.IsShutDown(today) ? Math.Round(billed * price / 1_000_000m, 2) : null;
        return new FineTuneEstimate(
            model.Id, model.Encoding, model.TrainingTokenLimit, exampleTokens.Count, chosenEpochs, tokensPerEpoch, billed,
            model.TrainingPricePer1M, cost, catalog.AsOf, Notices(model, catalog, today));
    }

    /// <summary>Shutdowns and ends of service that touch this model, relative to <paramref name="today"/>.</summary>
    public static IReadOnlyList<Notice> Notices(CatalogModel model, ModelCatalog catalog, DateOnly today)
    {
        var notices = new List<Notice>();
        if (model.ShutdownDate is { } shutdown)
        {
            notices.Add(shutdown <= today
                ? new Notice(Severity.Error, "model_shut_down",
                    $"{model.Id} was shut down on {shutdown:yyyy-MM-dd}: it can no longer be fine-tuned, and fine-tunes built on it no longer serve.")
                : new Notice(Severity.Warning, "model_shutting_down",
                    $"{model.Id} and every fine-tune built on it shut down on {shutdown:yyyy-MM-dd} ({DaysFrom(today, shutdown)})."));
        }
        foreach (var providerId in model.Providers)
        {
            if (catalog.FindProvider(providerId) is { FineTuningNewJobsEnd: { } end } provider)
            {
                notices.Add(end <= today
                    ? new Notice(Severity.Error, "provider_fine_tuning_ended",
                        $"{provider.Name} stopped accepting new fine-tuning jobs on {end:yyyy-MM-dd}.")
                    : new Notice(Severity.Warning, "provider_fine_tuning_ending",
                        $"{provider.Name} accepts no new fine-tuning jobs from {end:yyyy-MM-dd} ({DaysFrom(today, end)})."));
            }
        }
        return notices;
    }

    private static string DaysFrom(DateOnly today, DateOnly date)
    {
        var days = date.DayNumber - today.DayNumber;
        return days == 1 ? "tomorrow" : $"in {days} days";
    }
}
