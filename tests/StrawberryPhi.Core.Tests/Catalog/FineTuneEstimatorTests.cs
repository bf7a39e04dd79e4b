using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Validation;

namespace StrawberryPhi.Core.Tests.Catalog;

public class FineTuneEstimatorTests
{
    [Theory]
    [InlineData(10, 10)]   // 10*3 < 100 → min(25, 100 // 10)
    [InlineData(3, 25)]    // min(25, 33)
    [InlineData(33, 3)]    // 99 < 100 → 100 // 33 = 3
    [InlineData(34, 3)]
    [InlineData(8333, 3)]  // 24999 ≤ 25000
    [InlineData(8334, 2)]  // 25002 > 25000 → 25000 // 8334 = 2
    [InlineData(30000, 1)] // max(1, 0)
    public void RecommendedEpochs_CookbookRule(int examples, int epochs)
    {
        Assert.Equal(epochs, FineTuneEstimator.RecommendedEpochs(examples));
    }

    [Fact]
    public void Estimate_CapsEachExampleAtLimitAndPrices()
    {
        var catalog = ModelCatalog.Default;
        var model = catalog.Find("gpt-4o-mini")!;
        var tokens = Enumerable.Repeat(1000, 99).Append(100_000).ToList();
        var estimate = FineTuneEstimator.Estimate(model, catalog, tokens, new DateOnly(2026, 11, 23));
        Assert.Equal(99 * 1000 + 65_536, estimate.TokensPerEpoch);
        Assert.Equal(3, estimate.Epochs);
        Assert.Equal(3 * (99 * 1000L + 65_536), estimate.BilledTokens);
        Assert.Equal(Math.Round(estimate.BilledTokens * 3.00m / 1_000_000m, 2), estimate.CostUsd);
    }

    [Fact]
    public void Notices_BeforeShutdown_WarnWithDatesAndDays()
    {
        var catalog = ModelCatalog.Default;
        var notices = FineTuneEstimator.Notices(catalog.Find("gpt-4.1")!, catalog, new DateOnly(2026, 11, 23));
        Assert.Contains(notices, n => n.Severity == Severity.Warning && n.Message.Contains("2027-01-14 (in 52 days)", StringComparison.Ordinal));
        Assert.Contains(notices, n => n.Code == "provider_fine_tuning_ending" && n.Message.Contains("2027-01-06", StringComparison.Ordinal));
    }

    [Fact]
    public void Notices_AfterShutdown_AreErrors()
    {
        var catalog = ModelCatalog.Default;
        var notices = FineTuneEstimator.Notices(catalog.Find("gpt-3.5-turbo")!, catalog, new DateOnly(2026, 11, 23));
        Assert.Contains(notices, n => n.Severity == Severity.Error && n.Code == "model_shut_down");
        var later = FineTuneEstimator.Notices(catalog.Find("gpt-4o")!, catalog, new DateOnly(2027, 2, 1));
        Assert.All(later, n => Assert.Equal(Severity.Error, n.Severity));
    }

    [Fact]
    public void Catalog_Embedded_LoadsWithEveryFactsModel()
    {
        var catalog = ModelCatalog.Default;
        Assert.Equal(new DateOnly(2026, 11, 23), catalog.AsOf);
        Assert.Equal(25.00m, catalog.Find("gpt-4.1-2025-04-14")!.TrainingPricePer1M);
        Assert.Equal(5.00m, catalog.Find("gpt-4.1-mini")!.TrainingPricePer1M);
        Assert.Equal(25.00m, catalog.Find("gpt-4o")!.TrainingPricePer1M);
        Assert.Equal(3.00m, catalog.Find("GPT-4O-MINI")!.TrainingPricePer1M);
        Assert.Equal("cl100k_base", catalog.Find("gpt-3.5-turbo")!.Encoding);
        Assert.Equal(16_385, catalog.Find("gpt-3.5-turbo")!.TrainingTokenLimit);
        Assert.Null(catalog.Find("gpt-5"));
    }

    [Fact]
    public void Load_UnknownProvider_Throws()
    {
        const string json = """{"as_of":"2026-01-01","providers":[],"models":[{"id":"m","providers":["x"],"encoding":"o200k_base","training_token_limit":1,"methods":[],"training_price_per_1m":null,"inference_price_per_1m":null,"shutdown_date":null}]}""";
        var e = Assert.Throws<InvalidDataException>(() => ModelCatalog.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))));
        Assert.Contains("unknown provider x", e.Message);
    }
}
