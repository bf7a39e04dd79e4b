using StrawberryPhi.Core.Evaluation;

namespace StrawberryPhi.Core.Tests.Evaluation;

public class GradersTests
{
    [Theory]
    [InlineData("The total is 1,234 apples.", 1234)]
    [InlineData("It costs $12.50 in all", 12.5)]
    [InlineData("a 15% rise", 15)]
    [InlineData("−7 degrees", -7)]
    [InlineData("-$3", -3)]
    [InlineData("first 3, then 4.0 km", 4)]
    [InlineData("about .5", 0.5)]
    public void LastNumber_AsPeopleWriteThem(string text, double expected)
    {
        Assert.Equal(expected, Graders.LastNumber(text));
    }

    [Fact]
    public void LastNumber_None_Null()
    {
        Assert.Null(Graders.LastNumber("no digits here"));
    }

    [Theory]
    [InlineData("<thinking>6*7</thinking><output>The answer is 42.</output>", "Natalia sold 48/2 = 24 clips.\n#### 42", true, "42 = 42")]
    [InlineData("42.0", "42", true, "42 = 42")]
    [InlineData("1,000", "1000", true, "1000 = 1000")]
    [InlineData("41", "42", false, "41 ≠ 42")]
    [InlineData("none", "42", false, "the answer holds no number")]
    public void Numeric_ReadsOutputAndGsm8kReferences(string answer, string reference, bool pass, string reason)
    {
        var grade = Graders.Grade("numeric", answer, reference);

        Assert.Equal((pass, reason), (grade.Pass, grade.Reason));
    }

    [Fact]
    public void Numeric_WithinTolerance_Passes()
    {
        Assert.True(Graders.Grade("numeric", "3.14159", "3.1416", tolerance: 0.001).Pass);
        Assert.False(Graders.Grade("numeric", "3.14159", "3.1416").Pass);
    }

    [Theory]
    [InlineData("exact", "Paris", "Paris", true)]
    [InlineData("exact", "paris", "Paris", false)]
    [InlineData("normalized", "  PARIS. ", "paris", true)]
    [InlineData("normalized", "\"Paris\"", "paris", true)]
    [InlineData("contains", "It is Paris, in France.", "paris", true)]
    [InlineData("regex", "order #1234 shipped", @"#\d{4}\b", true)]
    [InlineData("regex", "order shipped", @"#\d{4}\b", false)]
    [InlineData("json", "{\"a\": [1, 2]}", "", true)]
    [InlineData("json", "{\"a\": [1, 2}", "", false)]
    public void Graders_CompareAsNamed(string grader, string answer, string reference, bool pass)
    {
        Assert.Equal(pass, Graders.Grade(grader, answer, reference).Pass);
    }

    [Fact]
    public void Grade_TheOutputBlockIsWhatIsGraded()
    {
        var grade = Graders.Grade("exact", "<thinking>maybe Lyon<reflection>no, the capital</reflection></thinking>\n<output>Paris</output>", "Paris");

        Assert.Equal((true, "Paris"), (grade.Pass, grade.Extracted));
    }

    [Theory]
    // No <output>: the whole text is the answer (its last number, for numeric).
    [InlineData("numeric", "<thinking>6*7 is 42</thinking>", "42", true)]
    // An answer outside the tag does not count: the output block is what is graded.
    [InlineData("numeric", "I first thought 42. <thinking>x</thinking><output>41</output>", "42", false)]
    [InlineData("exact", "42 <output>41</output>", "42", false)]
    // Negative values and units; decimals equal to integers.
    [InlineData("numeric", "<output>It fell by -3.0 °C</output>", "-3", true)]
    [InlineData("numeric", "<output>-3</output>", "3", false)]
    [InlineData("numeric", "<output>2,500 km</output>", "2500", true)]
    // JSON followed by more text is not valid JSON.
    [InlineData("json", "{\"a\": 1} and that is all", "", false)]
    [InlineData("json", "<output>[1, 2, 3]</output>", "", true)]
    public void Grade_EdgeCases(string grader, string answer, string reference, bool pass)
    {
        var grade = Graders.Grade(grader, answer, reference);
        Assert.True(grade.Pass == pass, $"{grader} on \"{answer}\": {grade.Reason}");
    }

    [Fact]
    public void Grade_BadRegex_SaysSoInsteadOfThrowing()
    {
        var grade = Graders.Grade("regex", "x", "(unclosed");

        Assert.False(grade.Pass);
        Assert.StartsWith("the reference is not a valid regular expression", grade.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Grade_UnknownGrader_NamesTheGraders()
    {
        var e = Assert.Throws<ArgumentException>(() => Graders.Grade("fuzzy", "a", "b"));

        Assert.Contains("exact, normalized, numeric, contains, regex, json", e.Message, StringComparison.Ordinal);
    }
}
