using System.Text;
using StrawberryPhi.Core.Reflection;

namespace StrawberryPhi.LocalEngine.Model;

/// <summary>
/// The local models' vocabulary: the 256 byte values, plus special tokens for chat roles, the end of a turn, and
/// the reflection tags, so that a tag is one token. Any text round-trips exactly.
/// </summary>
public sealed class EngineVocabulary
{
    public const int Pad = 256;
    public const int System = 257;
    public const int User = 258;
    public const int Assistant = 259;
    public const int Tool = 260;
    public const int End = 261;
    public const int ThinkingOpen = 262;
    public const int ThinkingClose = 263;
    public const int ReflectionOpen = 264;
    public const int ReflectionClose = 265;
    public const int OutputOpen = 266;
    public const int OutputClose = 267;

    /// <summary>Rounded up from the 268 tokens in use, leaving room without changing model shapes.</summary>
    public const int Size = 272;

    private readonly (string Text, int Token)[] _tags;

    public EngineVocabulary(ReflectionTags? tags = null)
    {
        var t = tags ?? ReflectionTags.Default;
        _tags =
        [
            ($"<{t.Thinking}>", ThinkingOpen), ($"</{t.Thinking}>", ThinkingClose),
            ($"<{t.Reflection}>", ReflectionOpen), ($"</{t.Reflection}>", ReflectionClose),
            ($"<{t.Output}>", OutputOpen), ($"</{t.Output}>", OutputClose),
        ];
    }

    public static EngineVocabulary Default { get; } = new();

    public static int RoleToken(string role) => role switch
    {
        "system" => System,
        "user" => User,
        "assistant" => Assistant,
        "tool" => Tool,
        _ => throw new ArgumentException($"Unknown role \"{role}\".", nameof(role)),
    };

    /// <summary>Text as tokens: reflection tags become their special token, everything else its UTF-8 bytes.</summary>
    public void Encode(string text, List<int> tokens)
    {
        var position = 0;
        while (position < text.Length)
        {
            var next = text.IndexOf('<', position);
            if (next < 0)
            {
                AddBytes(text.AsSpan(position), tokens);
                return;
            }
            AddBytes(text.AsSpan(position, next - position), tokens);
            var matched = false;
            foreach (var (tag, token) in _tags)
            {
                if (string.CompareOrdinal(text, next, tag, 0, tag.Length) == 0)
                {
                    tokens.Add(token);
                    position = next + tag.Length;
                    matched = true;
                    break;
                }
            }
            if (!matched)
            {
                tokens.Add('<');
                position = next + 1;
            }
        }
    }

    /// <summary>Tokens back to text; role, end and pad tokens are dropped, invalid UTF-8 becomes U+FFFD.</summary>
    public string Decode(IEnumerable<int> tokens)
    {
        var bytes = new List<byte>();
        var text = new StringBuilder();
        void Flush()
        {
            text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
        foreach (var token in tokens)
        {
            if (token < 256)
            {
                bytes.Add((byte)token);
                continue;
            }
            Flush();
            foreach (var (tag, tagToken) in _tags)
            {
                if (tagToken == token)
                {
                    text.Append(tag);
                }
            }
        }
        Flush();
        return text.ToString();
    }

    private static void AddBytes(ReadOnlySpan<char> text, List<int> tokens)
    {
        if (text.IsEmpty)
        {
            return;
        }
        Span<byte> buffer = text.Length <= 256 ? stackalloc byte[text.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(text.Length)];
        var length = Encoding.UTF8.GetBytes(text, buffer);
        foreach (var b in buffer[..length])
        {
            tokens.Add(b);
        }
    }
}
