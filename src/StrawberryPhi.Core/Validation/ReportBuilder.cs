using StrawberryPhi.Core.Catalog;
using StrawberryPhi.Core.Tokens;

namespace StrawberryPhi.Core.Validation;

/// <summary>Folds per-example facts and issues, in file order, into a <see cref="ValidationReport"/>.</summary>
internal sealed class ReportBuilder
{
    private const int MaxDistinctSystemPrompts = 10_000;

    private readonly ValidationOptions _options;
    private readonly List<Issue> _kept = [];
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, long> _firstLineByHash = [];
    private readonly Dictionary<ulong, (long Count, long FirstLine)> _systemPrompts = [];
    private readonly List<int> _tokens = [];
    private readonly List<int> _assistantTokens = [];
    private long _errors;
    private long _reflectionErrors;
    private long _warnings;
    private long _lines;
    private long _examples;
    private long _withoutSystem;
    private long _firstWithoutSystem;
    private long _overLimit;
    private long _totalTokens;
    private long _totalAssistant;
    private long _reflectionChecked;
    private long _reflectionValid;
    private long _withReflection;
    private long _reflections;
    private long _thinkingTokens;
    private long _reflectionTokens;
    private long _outputTokens;

    private readonly Action<Issue>? _onIssue;

    public ReportBuilder(ValidationOptions options, Action<Issue>? onIssue = null)
    {
        _options = options;
        _onIssue = onIssue;
    }

    private bool _stoppedEarly;

    /// <summary>A problem with the file as a whole that stops validation before any line is read.</summary>
    public void AddFileIssue(Issue issue)
    {
        _stoppedEarly = true;
        AddIssue(issue);
    }

    public void Add(ExampleFacts[] facts, List<Issue> issues)
    {
        foreach (var issue in issues)
        {
            AddIssue(issue);
        }
        foreach (ref readonly var fact in facts.AsSpan())
        {
            _lines++;
            if (fact.Blank)
            {
                continue;
            }
            _examples++;
            if (fact.Hash != 0)
            {
                if (_firstLineByHash.TryGetValue(fact.Hash, out var first))
                {
                    AddIssue(new Issue(fact.Line, "$", Severity.Warning, IssueCodes.DuplicateExample, $"Same example as line {first}."));
                }
                else
                {
                    _firstLineByHash.Add(fact.Hash, fact.Line);
                }
            }
            if (!fact.Counted)
            {
                continue;
            }
            _tokens.Add(fact.Tokens);
            _assistantTokens.Add(fact.AssistantTokens);
            _totalTokens += fact.Tokens;
            _totalAssistant += fact.AssistantTokens;
            if (fact.Tokens > _options.TokenLimit)
            {
                _overLimit++;
            }
            if (fact.HasSystem)
            {
                if (_systemPrompts.TryGetValue(fact.SystemHash, out var seen))
                {
                    _systemPrompts[fact.SystemHash] = (seen.Count + 1, seen.FirstLine);
                }
                else if (_systemPrompts.Count < MaxDistinctSystemPrompts)
                {
                    _systemPrompts.Add(fact.SystemHash, (1, fact.Line));
                }
            }
            else if (_withoutSystem++ == 0)
            {
                _firstWithoutSystem = fact.Line;
            }
            if (fact.ReflectionChecked)
            {
                _reflectionChecked++;
                _reflectionValid += fact.ReflectionValid ? 1 : 0;
                _withReflection += fact.Reflections > 0 ? 1 : 0;
                _reflections += fact.Reflections;
                _thinkingTokens += fact.ThinkingTokens;
                _reflectionTokens += fact.ReflectionTokens;
                _outputTokens += fact.OutputTokens;
            }
        }
    }

    public ValidationReport Build(string file, long bytes, DatasetKind kind, EstimateTarget? target, TimeSpan elapsed)
    {
        if (_stoppedEarly)
        {
            // The file-level issue says it all; counting examples would only add noise.
        }
        else if (_examples == 0)
        {
            AddIssue(new Issue(0, "$", Severity.Error, IssueCodes.EmptyFile, $"The file has {Text.Plural.Of(_lines, "line")}, all blank: there are no examples."));
        }
        else if (_examples < _options.MinExamples)
        {
            AddIssue(new Issue(0, "$", Severity.Error, IssueCodes.TooFewExamples,
                $"{Text.Plural.Of(_examples, "example")}; a training file needs at least {_options.MinExamples}."));
        }
        AddSystemPromptConsistency();

        var perExample = Distribution.Of(_tokens);
        var histogram = Histogram.Of(_tokens);
        var tokens = new TokenStatistics(_options.Encoding.Name, _totalTokens, _totalAssistant, perExample,
            Distribution.Of(_assistantTokens), _options.TokenLimit, _overLimit, histogram);

        ReflectionStatistics? reflection = null;
        if (_options.Reflection)
        {
            var reflectionTotal = (double)(_thinkingTokens + _reflectionTokens + _outputTokens);
            reflection = new ReflectionStatistics(
                _reflectionChecked, _reflectionValid, _withReflection,
                Ratio(_withReflection, _reflectionChecked), Ratio(_reflections, _reflectionChecked),
                _thinkingTokens, _reflectionTokens, _outputTokens,
                reflectionTotal == 0 ? 0 : _thinkingTokens / reflectionTotal,
                reflectionTotal == 0 ? 0 : _reflectionTokens / reflectionTotal,
                reflectionTotal == 0 ? 0 : _outputTokens / reflectionTotal);
        }

        FineTuneEstimate? estimate = target is null ? null
            : FineTuneEstimator.Estimate(target.Model, target.Catalog, _tokens, target.Today);

        var issues = _kept.OrderBy(i => i.Line).ToList();
        return new ValidationReport(file, bytes, kind, _examples, _lines, issues,
            new SortedDictionary<string, long>(_counts, StringComparer.Ordinal), _errors, _warnings, tokens, reflection, estimate, elapsed)
        {
            ReflectionErrors = _reflectionErrors,
        };
    }

    private void AddSystemPromptConsistency()
    {
        var distinct = _systemPrompts.Count;
        if (distinct == 0 || (distinct == 1 && _withoutSystem == 0))
        {
            return;
        }
        var common = _systemPrompts.MaxBy(p => p.Value.Count).Value;
        var counted = _tokens.Count;
        // One definition of an example (a non-blank line); those an error kept from being read are said, not hidden.
        var of = counted == _examples ? $"{_examples:N0} examples" : $"the {counted:N0} readable examples ({_examples - counted:N0} could not be read)";
        if (distinct > 1)
        {
            var firstOther = _systemPrompts.Values.Where(v => v != common).Min(v => v.FirstLine);
            AddIssue(new Issue(firstOther, "$.messages", Severity.Warning, IssueCodes.InconsistentSystemPrompt,
                $"{(distinct >= MaxDistinctSystemPrompts ? "At least " : "")}{distinct} different system prompts: the most common (first at line {common.FirstLine}) " +
                $"is used by {common.Count:N0} of {of}; this line uses another. Mixed prompts are fine only if intended."));
        }
        else
        {
            AddIssue(new Issue(_firstWithoutSystem, "$.messages", Severity.Warning, IssueCodes.InconsistentSystemPrompt,
                $"{_withoutSystem:N0} of {of} have no system prompt while the others share one (first at line {common.FirstLine}); this is the first without."));
        }
    }

    private void AddIssue(Issue issue)
    {
        _onIssue?.Invoke(issue);
        var count = _counts.TryGetValue(issue.Code, out var c) ? c + 1 : 1;
        _counts[issue.Code] = count;
        switch (issue.Severity)
        {
            case Severity.Error:
                _errors++;
                _reflectionErrors += ValidationReport.IsReflectionCode(issue.Code) ? 1 : 0;
                break;
            case Severity.Warning:
                _warnings++;
                break;
        }
        if (count <= _options.MaxIssuesPerCode)
        {
            _kept.Add(issue);
        }
    }

    private static double Ratio(long part, long whole) => whole == 0 ? 0 : (double)part / whole;
}
