using System.Globalization;

namespace StrawberryPhi.Web.Components.Jobs;

/// <summary>Amounts in US dollars as the studio shows them: "$0.00" for free, "≈ $1.20" for an estimate, a dash when unknown.</summary>
public static class Money
{
    public static string Format(decimal? amount, bool estimated = false) => amount switch
    {
        null => "—",
        0m => "free",
        _ => (estimated ? "≈ " : "") + amount.Value.ToString("$#,##0.00", CultureInfo.InvariantCulture),
    };
}
