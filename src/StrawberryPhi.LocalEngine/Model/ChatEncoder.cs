namespace StrawberryPhi.LocalEngine.Model;

/// <summary>A chat message as the engine trains on it. <see cref="Trained"/>: an assistant message with weight 1 (or none).</summary>
public sealed record ChatMessage(string Role, string Content, bool Trained = true);

/// <summary>A tokenized example: <see cref="Trained"/>[i] says whether predicting <see cref="Tokens"/>[i] counts in the loss.</summary>
public sealed record EncodedExample(int[] Tokens, bool[] Trained);

/// <summary>Lays out a conversation as role token, content tokens, end token, for every message.</summary>
public static class ChatEncoder
{
    public static EncodedExample EncodeForTraining(IReadOnlyList<ChatMessage> messages, EngineVocabulary vocabulary)
    {
        var tokens = new List<int>();
        var trained = new List<bool>();
        var content = new List<int>();
        foreach (var message in messages)
        {
            tokens.Add(EngineVocabulary.RoleToken(message.Role));
            trained.Add(false);
            content.Clear();
            vocabulary.Encode(message.Content, content);
            content.Add(EngineVocabulary.End);
            // The loss is on the assistant's content and its end token only (and only where weight is not 0).
            var learn = message.Role == "assistant" && message.Trained;
            tokens.AddRange(content);
            trained.AddRange(Enumerable.Repeat(learn, content.Count));
        }
        return new EncodedExample([.. tokens], [.. trained]);
    }

    /// <summary>
    /// The example cut to a window of <paramref name="context"/> positions (<c>context + 1</c> tokens) that keeps what
    /// is trained on: the prompt is cut from the left (the oldest turns go first), and an answer longer than the
    /// window keeps its beginning. Null when no token of the example is trained on (nothing to learn from it).
    /// </summary>
    public static EncodedExample? FitToContext(EncodedExample example, int context)
    {
        // Trained[0] never counts: there is no token before the first to predict it from.
        var first = Array.IndexOf(example.Trained, true, 1);
        if (first < 0)
        {
            return null;
        }
        var window = context + 1;
        if (example.Tokens.Length <= window)
        {
            return example;
        }
        var last = Array.LastIndexOf(example.Trained, true);
        var start = last - first + 2 <= window
            ? Math.Max(0, last + 1 - window)
            : first - 1;
        return new EncodedExample(example.Tokens[start..(start + window)], example.Trained[start..(start + window)]);
    }

    /// <summary>The prompt for a reply: every message, then the assistant's role token.</summary>
    public static int[] EncodePrompt(IReadOnlyList<ChatMessage> messages, EngineVocabulary vocabulary)
    {
        var tokens = new List<int>();
        foreach (var message in messages)
        {
            tokens.Add(EngineVocabulary.RoleToken(message.Role));
            vocabulary.Encode(message.Content, tokens);
            tokens.Add(EngineVocabulary.End);
        }
        tokens.Add(EngineVocabulary.Assistant);
        return [.. tokens];
    }
}
