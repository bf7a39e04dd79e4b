using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace StrawberryPhi.Web.Chat;

/// <summary>
/// Markdown from a model rendered for the page without letting the model put anything active there: raw HTML is
/// shown as text (Markdig's <c>DisableHtml</c>), links keep only http, https and mailto targets, and images become
/// plain links (a model's image would make the browser fetch an address it chose).
/// </summary>
public static class SafeMarkdown
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().DisableHtml().UsePipeTables().UseEmphasisExtras().UseAutoLinks().Build();

    public static string ToHtml(string markdown)
    {
        var document = Markdown.Parse(markdown, Pipeline);
        foreach (var link in document.Descendants<LinkInline>())
        {
            link.IsImage = false;
            if (!Safe(link.Url))
            {
                link.Url = "";
            }
        }
        foreach (var link in document.Descendants<AutolinkInline>())
        {
            if (!Safe(link.Url))
            {
                link.Url = "";
            }
        }
        return document.ToHtml(Pipeline);
    }

    private static bool Safe(string? url) =>
        string.IsNullOrEmpty(url)
        || (Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Scheme is "http" or "https" or "mailto" : !url.Contains(':', StringComparison.Ordinal));
}
