using System.Text.Json;

namespace StrawberryPhi.Core.Tests;

/// <summary>Small, valid examples to surround the one line a test is about.</summary>
public static class Examples
{
    public static string Chat(int i) => JsonSerializer.Serialize(new
    {
        messages = new object[]
        {
            new { role = "system", content = "You are a careful tutor." },
            new { role = "user", content = $"What is {i} + {i}?" },
            new { role = "assistant", content = $"{i} + {i} = {2 * i}." },
        },
    });

    public static string Reflection(int i) => JsonSerializer.Serialize(new
    {
        messages = new object[]
        {
            new { role = "system", content = "You are a careful tutor." },
            new { role = "user", content = $"What is {i} + {i}?" },
            new { role = "assistant", content = $"<thinking>{i} + {i} is {2 * i + 1}.<reflection>No: {i} + {i} is {2 * i}.</reflection></thinking>\n<output>{2 * i}</output>" },
        },
    });

    public static string Preference(int i) => JsonSerializer.Serialize(new
    {
        input = new { messages = new object[] { new { role = "user", content = $"What is {i} + {i}?" } } },
        preferred_output = new object[] { new { role = "assistant", content = $"{2 * i}" } },
        non_preferred_output = new object[] { new { role = "assistant", content = $"{2 * i + 1}" } },
    });

    /// <summary>Ten distinct valid chat examples, enough to pass <c>too_few_examples</c>.</summary>
    public static IEnumerable<string> Filler(Func<int, string>? make = null, int count = 10) =>
        Enumerable.Range(1, count).Select(make ?? Chat);
}
