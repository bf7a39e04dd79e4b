using System.Text.Json;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Engine;

/// <summary>How a training file's examples fit a local base's context, before a job is made with it.</summary>
/// <param name="Longer">Examples longer than the context: their prompts are cut from the left when they train.</param>
/// <param name="NothingLeft">Examples with no trained token left once cut (or none to begin with): left out of training.</param>
public sealed record ContextFit(string Model, int Context, long Examples, long Longer, long NothingLeft);

/// <summary>A validated chat JSONL file as the engine trains on it: each line encoded with the engine's vocabulary.</summary>
public static class TrainingFile
{
    /// <summary>Encodes the examples one at a time, in file order (blank lines skipped).</summary>
    public static IEnumerable<EncodedExample> Encode(string path, CancellationToken cancellationToken = default)
    {
        foreach (var line in File.ReadLines(path))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using var document = JsonDocument.Parse(line);
            yield return ChatEncoder.EncodeForTraining(Messages(document.RootElement.GetProperty("messages")), EngineVocabulary.Default);
        }
    }

    /// <summary>
    /// Encodes a validated preference JSONL file (input.messages, preferred_output, non_preferred_output): each pair is
    /// the same prompt with either answer, trained on that answer only.
    /// </summary>
    public static IEnumerable<PreferencePair> EncodePreferences(string path, CancellationToken cancellationToken = default)
    {
        foreach (var line in File.ReadLines(path))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var prompt = Messages(root.GetProperty("input").GetProperty("messages"));
            var chosen = Messages(root.GetProperty("preferred_output"));
            var rejected = Messages(root.GetProperty("non_preferred_output"));
            yield return new PreferencePair(
                ChatEncoder.EncodeForTraining([.. prompt, .. chosen], EngineVocabulary.Default),
                ChatEncoder.EncodeForTraining([.. prompt, .. rejected], EngineVocabulary.Default));
        }
    }

    private static List<ChatMessage> Messages(JsonElement array) =>
        [.. array.EnumerateArray().Select(m => new ChatMessage(
            m.GetProperty("role").GetString() is "function" ? "tool" : m.GetProperty("role").GetString()!,
            m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "",
            !m.TryGetProperty("weight", out var w) || w.GetInt32() != 0))];

    /// <summary>
    /// For every local base, how many examples exceed its context and how many would keep nothing to train on: the
    /// local engine's counterpart of a provider's token limit. One streaming pass; nothing is kept in memory.
    /// </summary>
    public static IReadOnlyList<ContextFit> Measure(string path, CancellationToken cancellationToken = default)
    {
        var sizes = ModelSize.All;
        var longer = new long[sizes.Count];
        var nothing = new long[sizes.Count];
        long examples = 0;
        foreach (var example in Encode(path, cancellationToken))
        {
            examples++;
            for (var i = 0; i < sizes.Count; i++)
            {
                longer[i] += example.Tokens.Length > sizes[i].Context + 1 ? 1 : 0;
                nothing[i] += ChatEncoder.FitToContext(example, sizes[i].Context) is null ? 1 : 0;
            }
        }
        return [.. sizes.Select((s, i) => new ContextFit(s.Name, s.Context, examples, longer[i], nothing[i]))];
    }
}
