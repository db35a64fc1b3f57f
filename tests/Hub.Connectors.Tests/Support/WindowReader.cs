using Newtonsoft.Json.Linq;

namespace Hub.Connectors.Tests.Support;

/// <summary>
/// Reads a window page by page the way the runtime's PullStream does, and computes the bookmark the runtime would
/// store: min(syncStart, maxSeen).
/// </summary>
internal static class WindowReader
{
    public static async Task<ReadResult> ReadAsync(
        IStoreConnector connector,
        ConnectionContext connection,
        string stream,
        DateTimeOffset start,
        DateTimeOffset end,
        string? cursor = null,
        int maxPages = 10_000,
        Func<int, Task>? afterPage = null)
    {
        var records = new List<JObject>();
        var warnings = new List<string>();
        DateTimeOffset? maxSeen = null;
        var pages = 0;
        while (true)
        {
            var page = await connector.PullAsync(new PullRequest(connection, stream, cursor, start, end), CancellationToken.None);
            pages++;
            records.AddRange(page.Records);
            warnings.AddRange(page.Warnings);
            if (page.MaxUpdatedAt is { } m && (maxSeen is null || m > maxSeen))
            {
                maxSeen = m;
            }

            if (afterPage is not null)
            {
                await afterPage(pages);
            }

            if (!page.HasMore)
            {
                var bookmark = maxSeen is null ? start : (maxSeen < end ? maxSeen.Value : end);
                return new ReadResult(records, pages, null, bookmark, warnings);
            }

            Assert.NotNull(page.NextCursor);
            cursor = page.NextCursor;
            if (pages >= maxPages)
            {
                return new ReadResult(records, pages, cursor, null, warnings);
            }
        }
    }
}

/// <param name="Cursor">Where an interrupted read resumes; null when the window was read to its end.</param>
/// <param name="Bookmark">min(syncStart, maxSeen) once the window is done.</param>
internal sealed record ReadResult(List<JObject> Records, int Pages, string? Cursor, DateTimeOffset? Bookmark, List<string> Warnings);
