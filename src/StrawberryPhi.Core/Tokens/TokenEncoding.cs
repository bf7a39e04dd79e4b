using Microsoft.ML.Tokenizers;

namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// A tiktoken encoding: its vocabulary (from Microsoft.ML.Tokenizers' data packages) and its pre-tokenization
/// pattern. The patterns are the ones Microsoft.ML.Tokenizers uses for these encodings; we run them ourselves so
/// that every worker thread owns its Regex (see <see cref="TokenCounter"/> and docs/adr/0002).
/// </summary>
public sealed class TokenEncoding
{
    public static readonly TokenEncoding O200kBase = new(
        "o200k_base",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    public static readonly TokenEncoding Cl100kBase = new(
        "cl100k_base",
        "'(?i:[sdmt]|ll|ve|re)|(?>[^\\r\\n\\p{L}\\p{N}]?)(?>\\p{L}+)|(?>\\p{N}{1,3})| ?(?>[^\\s\\p{L}\\p{N}]+)(?>[\\r\\n]*)|(?>\\s+)$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s");

    private TokenEncoding(string name, string pattern)
    {
        Name = name;
        Pattern = pattern;
    }

    public string Name { get; }

    internal string Pattern { get; }

    public static IReadOnlyList<TokenEncoding> All { get; } = [O200kBase, Cl100kBase];

    public static TokenEncoding FromName(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown token encoding \"{name}\"; known: {string.Join(", ", All.Select(e => e.Name))}.", nameof(name));

    // Each call builds an instance; the vocabulary itself is cached process-wide by the library.
    internal Tokenizer CreateTokenizer() => TiktokenTokenizer.CreateForEncoding(Name);

    public override string ToString() => Name;
}
