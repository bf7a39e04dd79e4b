using System.Globalization;

namespace StrawberryPhi.Core.Datasets;

/// <summary>File sizes for people, in binary units: "812 B", "4 KB", "1.5 MB", "2.25 GB"; the same in every face.</summary>
public static class ByteSize
{
    public static string Format(long bytes, IFormatProvider? culture = null)
    {
        culture ??= CultureInfo.CurrentCulture;
        return bytes switch
        {
            >= 1L << 30 => string.Format(culture, "{0:0.##} GB", bytes / (double)(1L << 30)),
            >= 1L << 20 => string.Format(culture, "{0:0.#} MB", bytes / (double)(1L << 20)),
            >= 1L << 10 => string.Format(culture, "{0:0.#} KB", bytes / (double)(1L << 10)),
            _ => string.Format(culture, "{0} B", bytes),
        };
    }
}
