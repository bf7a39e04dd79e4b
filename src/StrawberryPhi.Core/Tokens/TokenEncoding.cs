namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// A tiktoken encoding: its pre-tokenization (<see cref="PreTokenizer"/>) and its vocabulary (from
/// Microsoft.ML.Tokenizers' data packages).
/// </summary>
public sealed class TokenEncoding
{
    public static readonly TokenEncoding O200kBase = new(
        "o200k_base",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        "Microsoft.ML.Tokenizers.Data.O200kBase", "o200k_base.tiktoken.deflate");

    public static readonly TokenEncoding Cl100kBase = new(
        "cl100k_base",
        "'(?i:[sdmt]|ll|ve|re)|(?>[^\\r\\n\\p{L}\\p{N}]?)(?>\\p{L}+)|(?>\\p{N}{1,3})| ?(?>[^\\s\\p{L}\\p{N}]+)(?>[\\r\\n]*)|(?>\\s+)$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s",
        "Microsoft.ML.Tokenizers.Data.Cl100kBase", "cl100k_base.tiktoken.deflate");

    private readonly Lazy<TiktokenVocabulary> _vocabulary;

    private TokenEncoding(string name, string pattern, string assembly, string resource)
    {
        Name = name;
        Pattern = pattern;
        _vocabulary = new Lazy<TiktokenVocabulary>(() => TiktokenVocabulary.Load(assembly, resource), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Name { get; }

    /// <summary>The regex that <see cref="PreTokenizer"/> implements for this encoding; tests use it as an oracle.</summary>
    internal string Pattern { get; }

    /// <summary>The end of the pre-tokenization piece that starts at <paramref name="start"/>.</summary>
    internal int NextPiece(ReadOnlySpan<char> text, int start) =>
        this == O200kBase ? PreTokenizer.NextO200k(text, start) : PreTokenizer.NextCl100k(text, start);

    /// <summary>Loaded on first use, once per process, shared by every counter.</summary>
    internal TiktokenVocabulary Vocabulary => _vocabulary.Value;

    public static IReadOnlyList<TokenEncoding> All { get; } = [O200kBase, Cl100kBase];

    public static TokenEncoding FromName(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown token encoding \"{name}\"; known: {string.Join(", ", All.Select(e => e.Name))}.", nameof(name));

    /// <summary>Starts loading the vocabulary on the thread pool so that it overlaps with other start-up work.</summary>
    public void Preload() => _ = Task.Run(() => _vocabulary.Value);

    public override string ToString() => Name;
}
