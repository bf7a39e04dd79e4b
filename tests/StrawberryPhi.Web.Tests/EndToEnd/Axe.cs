using System.Text.Json;
using Microsoft.Playwright;

namespace StrawberryPhi.Web.Tests.EndToEnd;

/// <summary>axe-core (from npm, installed by scripts/test.sh) run in the page: WCAG 2.1 A and AA rules.</summary>
public static class Axe
{
    private static readonly Lazy<string> Script = new(() =>
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "StrawberryPhi.slnx")))
        {
            directory = directory.Parent;
        }
        var path = directory is null ? null : Path.Combine(directory.FullName, "tests", "StrawberryPhi.Web.Tests", "node_modules", "axe-core", "axe.min.js");
        return path is not null && File.Exists(path)
            ? File.ReadAllText(path)
            : throw new InvalidOperationException("axe-core is not installed: run scripts/test.sh (it runs npm ci in tests/StrawberryPhi.Web.Tests).");
    });

    /// <summary>The serious and critical violations on the page as it is now, one line each (rule, what to fix, where).</summary>
    public static async Task<IReadOnlyList<string>> SeriousViolationsAsync(IPage page)
    {
        await page.AddScriptTagAsync(new PageAddScriptTagOptions { Content = Script.Value });
        var violations = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
              return result.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 4).map(n => n.target.join(' ') + (n.any.length ? ' [' + n.any[0].message + ']' : '')).join('; ')}`);
            }
            """);
        return violations.EnumerateArray().Select(v => v.GetString()!).ToList();
    }
}
