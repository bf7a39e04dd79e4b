using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace StrawberryPhi.Core.Datasets;

/// <summary>
/// A 64-bit hash of a JSON example's structure and values that ignores insignificant whitespace, so two lines that
/// say the same thing hash the same (used for duplicate detection and de-duplication).
/// </summary>
public static class ExampleHasher
{
    public static ulong Hash(JsonElement element, XxHash3 hasher)
    {
        hasher.Reset();
        Append(element, hasher);
        return hasher.GetCurrentHashAsUInt64();
    }

    private static void Append(JsonElement element, XxHash3 hasher)
    {
        Span<byte> kind = [(byte)element.ValueKind];
        hasher.Append(kind);
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    hasher.Append(JsonMarshal.GetRawUtf8PropertyName(property));
                    Append(property.Value, hasher);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Append(item, hasher);
                }
                break;
            default:
                hasher.Append(JsonMarshal.GetRawUtf8Value(element));
                break;
        }
    }
}
