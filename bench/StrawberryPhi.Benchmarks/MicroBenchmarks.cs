using BenchmarkDotNet.Attributes;
using Microsoft.ML.Tokenizers;
using StrawberryPhi.Core.Reflection;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Benchmarks;

/// <summary>Per-call costs on one thread (BenchmarkDotNet): tokenizer counting and the reflection parser.</summary>
[MemoryDiagnoser]
public class MicroBenchmarks
{
    private const string Text =
        "<thinking>The question asks for 17 × 23. 17 × 20 = 340 and 17 × 3 = 51, so 391.<reflection>Check: 391 / 17 = 23. Correct.</reflection> " +
        "Naïve café, 東京, don't, it's — numbers like 1234567 and code `for (int i = 0; i < n; i++)`.</thinking>\n<output>391</output>";

    private readonly Tokenizer _library = TiktokenTokenizer.CreateForEncoding("o200k_base");
    private readonly TokenCounter _counter = new(TokenEncoding.O200kBase);

    [Benchmark(Baseline = true)]
    public int LibraryCountTokens() => _library.CountTokens(Text);

    [Benchmark]
    public int TokenCounterCount() => _counter.Count(Text);

    [Benchmark]
    public int ReflectionParse() => ReflectionParser.Parse(Text, ReflectionTags.Default).Reflections.Count;
}
