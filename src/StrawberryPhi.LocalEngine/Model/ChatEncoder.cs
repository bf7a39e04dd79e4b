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
