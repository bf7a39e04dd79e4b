using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Tests;

/// <summary>
/// Two-digit addition where the assistant reasons in thinking, in some examples first forgets the carry and
/// corrects itself in a reflection, and answers in output: the reflection-tuning fixture.
/// </summary>
public static class ArithmeticReflectionData
{
    public const string SystemPrompt = "Reason in <thinking>, correct mistakes in <reflection>, answer in <output>.";

    public static List<(int A, int B)> Pairs(int seed, int count, Func<(int A, int B), bool>? keep = null)
    {
        var random = new Random(seed);
        var pairs = new List<(int, int)>();
        while (pairs.Count < count)
        {
            var pair = (random.Next(10, 100), random.Next(10, 100));
            if (keep?.Invoke(pair) ?? true)
            {
                pairs.Add(pair);
            }
        }
        return pairs;
    }

    public static List<ChatMessage> Prompt(int a, int b) =>
    [
        new("system", SystemPrompt),
        new("user", $"{a}+{b}=?"),
    ];

    public static List<ChatMessage> Example(int a, int b, bool withReflection)
    {
        var ones = a % 10 + b % 10;
        var carry = ones / 10;
        var sum = a + b;
        var thinking = withReflection && carry == 1
            ? $"{a % 10}+{b % 10}={ones}. {a / 10}+{b / 10}={a / 10 + b / 10}. So {sum - 10}.<reflection>I forgot the carry: {a / 10}+{b / 10}+1={a / 10 + b / 10 + 1}.</reflection> So {sum}."
            : $"{a % 10}+{b % 10}={ones}. {a / 10}+{b / 10}+{carry}={a / 10 + b / 10 + carry}. So {sum}.";
        return [.. Prompt(a, b), new("assistant", $"<thinking>{thinking}</thinking><output>{sum}</output>")];
    }
}
