using DiffPlex;
using DiffPlex.Chunkers;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace StrawberryPhi.Core.Evaluation;

public enum DiffKind
{
    Same,
    Removed,
    Added,
}

/// <summary>A run of words that both answers share, or that only one has.</summary>
public sealed record DiffPiece(DiffKind Kind, string Text);

/// <summary>Word-level differences between two answers (DiffPlex), for side-by-side comparison.</summary>
public static class AnswerDiff
{
    public static IReadOnlyList<DiffPiece> Words(string before, string after)
    {
        var model = new InlineDiffBuilder(new Differ()).BuildDiffModel(before, after, false, false, new WordChunker());
        var pieces = new List<DiffPiece>();
        foreach (var line in model.Lines)
        {
            var kind = line.Type switch
            {
                ChangeType.Inserted => DiffKind.Added,
                ChangeType.Deleted => DiffKind.Removed,
                _ => DiffKind.Same,
            };
            // Neighbours of one kind are merged, so that the result reads as runs.
            if (pieces.Count > 0 && pieces[^1].Kind == kind)
            {
                pieces[^1] = pieces[^1] with { Text = pieces[^1].Text + line.Text };
            }
            else
            {
                pieces.Add(new DiffPiece(kind, line.Text ?? ""));
            }
        }
        return pieces;
    }
}
