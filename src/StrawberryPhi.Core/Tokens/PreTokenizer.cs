using System.Globalization;

namespace StrawberryPhi.Core.Tokens;

/// <summary>
/// Splits text into the pieces tiktoken's pre-tokenization regex would produce, for o200k_base and cl100k_base,
/// without a regex engine. Works on code points as tiktoken does (a regex over UTF-16 sees a supplementary-plane
/// letter such as U+20000 as two non-letters). Each method returns the end of the piece that starts at
/// <c>start</c>, following the regex's alternation order and backtracking exactly (see docs/adr/0002).
/// </summary>
internal static class PreTokenizer
{
    [Flags]
    private enum CharClass : byte
    {
        None = 0,
        Letter = 1,     // \p{L}
        Number = 2,     // \p{N}
        Upperish = 4,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
        Lowerish = 8,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
        Space = 16,     // \s
        CrLf = 32,      // [\r\n]
    }

    private static readonly CharClass[] Ascii = BuildAscii();

    // o200k_base:
    //   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
    //  |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
    //  |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
    public static int NextO200k(ReadOnlySpan<char> text, int start)
    {
        var first = Classify(text, start, out var firstLength);
        var end = WithPrefix(text, start, first, firstLength, upperThenLower: true);
        if (end < 0)
        {
            end = WithPrefix(text, start, first, firstLength, upperThenLower: false);
        }
        if (end >= 0)
        {
            return Contraction(text, end);
        }
        return Numbers(text, start, first)
            ?? Punctuation(text, start, first, slash: true)
            ?? Whitespace(text, start);
    }

    // cl100k_base (tiktoken's own pattern; ?+ and ++ are possessive):
    //   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
    public static int NextCl100k(ReadOnlySpan<char> text, int start)
    {
        if (text[start] == '\'' && Contraction(text, start) is var contraction && contraction > start)
        {
            return contraction;
        }
        var first = Classify(text, start, out var firstLength);
        var letters = IsPrefix(first) ? start + firstLength : start;
        if (letters < text.Length && (Classify(text, letters, out _) & CharClass.Letter) != 0)
        {
            return Run(text, letters, CharClass.Letter);
        }
        return Numbers(text, start, first)
            ?? Punctuation(text, start, first, slash: false)
            ?? Whitespace(text, start);
    }

    /// <summary>[^\r\n\p{L}\p{N}]? before the letters: greedy, so first with the prefix, then without.</summary>
    private static int WithPrefix(ReadOnlySpan<char> text, int start, CharClass first, int firstLength, bool upperThenLower)
    {
        if (IsPrefix(first) && start + firstLength < text.Length)
        {
            var end = upperThenLower ? UpperThenLower(text, start + firstLength) : UpperRun(text, start + firstLength);
            if (end >= 0)
            {
                return end;
            }
        }
        return upperThenLower ? UpperThenLower(text, start) : UpperRun(text, start);
    }

    /// <summary>U*L+ with backtracking: the longest match, or -1.</summary>
    private static int UpperThenLower(ReadOnlySpan<char> text, int start)
    {
        var upperEnd = start;
        var lastLowerish = -1;
        var lastLowerishLength = 0;
        while (upperEnd < text.Length)
        {
            var c = Classify(text, upperEnd, out var length);
            if ((c & CharClass.Upperish) == 0)
            {
                break;
            }
            if ((c & CharClass.Lowerish) != 0)
            {
                lastLowerish = upperEnd;
                lastLowerishLength = length;
            }
            upperEnd += length;
        }
        if (upperEnd < text.Length && (Classify(text, upperEnd, out _) & CharClass.Lowerish) != 0)
        {
            return Run(text, upperEnd, CharClass.Lowerish);
        }
        // L+ cannot start after the greedy U*: give characters back until one of them is also lower-ish.
        return lastLowerish < 0 ? -1 : lastLowerish + lastLowerishLength;
    }

    /// <summary>U+L*: -1 without at least one upper-ish character.</summary>
    private static int UpperRun(ReadOnlySpan<char> text, int start)
    {
        var end = Run(text, start, CharClass.Upperish);
        return end == start ? -1 : Run(text, end, CharClass.Lowerish);
    }

    /// <summary>(?i:'s|'t|'re|'ve|'m|'ll|'d)? at <paramref name="end"/>: returns the end after it, or <paramref name="end"/>.</summary>
    private static int Contraction(ReadOnlySpan<char> text, int end)
    {
        if (end + 1 >= text.Length || text[end] != '\'')
        {
            return end;
        }
        var a = char.ToLowerInvariant(text[end + 1]);
        if (a is 's' or 't' or 'm' or 'd' or '\u017F')
        {
            return end + 2;
        }
        if (end + 2 < text.Length)
        {
            var b = char.ToLowerInvariant(text[end + 2]);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            {
                return end + 3;
            }
        }
        return end;
    }

    /// <summary>\p{N}{1,3}</summary>
    private static int? Numbers(ReadOnlySpan<char> text, int start, CharClass first)
    {
        if ((first & CharClass.Number) == 0)
        {
            return null;
        }
        var end = start;
        for (var i = 0; i < 3 && end < text.Length; i++)
        {
            if ((Classify(text, end, out var length) & CharClass.Number) == 0)
            {
                break;
            }
            end += length;
        }
        return end;
    }

    /// <summary> ?[^\s\p{L}\p{N}]+ then [\r\n/]* (o200k) or [\r\n]* (cl100k).</summary>
    private static int? Punctuation(ReadOnlySpan<char> text, int start, CharClass first, bool slash)
    {
        var at = start;
        if (text[start] == ' ' && start + 1 < text.Length && IsOther(Classify(text, start + 1, out _)))
        {
            at = start + 1;
        }
        else if (!IsOther(first))
        {
            return null;
        }
        var end = at;
        while (end < text.Length)
        {
            var c = Classify(text, end, out var length);
            if (!IsOther(c))
            {
                break;
            }
            end += length;
        }
        while (end < text.Length && (text[end] is '\r' or '\n' || (slash && text[end] == '/')))
        {
            end++;
        }
        return end;
    }

    /// <summary>
    /// \s*[\r\n]+ (o200k) or \s*[\r\n] (cl100k), then \s+(?!\S), then \s+. Reached only at whitespace: every other
    /// character is a letter, a number or "other" and matched above. Whitespace is all in the BMP.
    /// </summary>
    private static int Whitespace(ReadOnlySpan<char> text, int start)
    {
        var end = start;
        var lastNewline = -1;
        while (end < text.Length && (Classify(text, end, out _) & CharClass.Space) != 0)
        {
            if (text[end] is '\r' or '\n')
            {
                lastNewline = end;
            }
            end++;
        }
        if (lastNewline >= 0)
        {
            // The greedy \s* gives back to the last newline; [\r\n]+ then takes it (and nothing after, which is not a newline).
            return lastNewline + 1;
        }
        if (end == text.Length || end - start < 2)
        {
            return end;
        }
        return end - 1;
    }

    private static int Run(ReadOnlySpan<char> text, int start, CharClass wanted)
    {
        var end = start;
        while (end < text.Length)
        {
            if ((Classify(text, end, out var length) & wanted) == 0)
            {
                break;
            }
            end += length;
        }
        return end;
    }

    /// <summary>[^\r\n\p{L}\p{N}]</summary>
    private static bool IsPrefix(CharClass c) => (c & (CharClass.CrLf | CharClass.Letter | CharClass.Number)) == 0;

    /// <summary>[^\s\p{L}\p{N}]</summary>
    private static bool IsOther(CharClass c) => (c & (CharClass.Space | CharClass.Letter | CharClass.Number)) == 0;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static CharClass Classify(ReadOnlySpan<char> text, int index, out int length)
    {
        var c = text[index];
        if (c < 128)
        {
            length = 1;
            return Ascii[c];
        }
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            length = 2;
            return FromCategory(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[index + 1])), 0);
        }
        length = 1;
        return FromCategory(CharUnicodeInfo.GetUnicodeCategory(c), c);
    }

    private static CharClass FromCategory(UnicodeCategory category, int codePoint) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter => CharClass.Letter | CharClass.Upperish,
        UnicodeCategory.LowercaseLetter => CharClass.Letter | CharClass.Lowerish,
        UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter | CharClass.Upperish | CharClass.Lowerish,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CharClass.Upperish | CharClass.Lowerish,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CharClass.Space,
        _ when codePoint is '\u0085' => CharClass.Space,
        _ => CharClass.None,
    };

    private static CharClass[] BuildAscii()
    {
        var table = new CharClass[128];
        for (var c = 0; c < 128; c++)
        {
            table[c] = c switch
            {
                '\r' or '\n' => CharClass.Space | CharClass.CrLf,
                '\t' or '\v' or '\f' or ' ' => CharClass.Space,
                _ => FromCategory(CharUnicodeInfo.GetUnicodeCategory((char)c), c),
            };
        }
        return table;
    }
}
