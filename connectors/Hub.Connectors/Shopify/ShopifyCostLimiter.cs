using System.Collections.Concurrent;

namespace Hub.Connectors.Shopify;

/// <summary>
/// The shop's GraphQL cost bucket as Shopify last reported it (<c>extensions.cost.throttleStatus</c>), refilled at
/// its restore rate. Waiting here before a query that would not fit avoids the THROTTLED round trip altogether.
/// One per process; shops are independent buckets.
/// https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
/// </summary>
public sealed class ShopifyCostLimiter(TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    /// <summary>How long to wait before <paramref name="cost"/> points are available; zero when unknown or available.</summary>
    public TimeSpan WaitFor(string shop, int cost)
    {
        if (!_buckets.TryGetValue(shop, out var b) || b.RestoreRate <= 0)
        {
            return TimeSpan.Zero;
        }

        var elapsed = (clock.GetUtcNow() - b.At).TotalSeconds;
        var available = Math.Min(b.Maximum, b.Available + (elapsed * b.RestoreRate));
        var needed = Math.Min(cost, b.Maximum) - available;
        return needed <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(needed / b.RestoreRate);
    }

    public void Update(string shop, double maximum, double available, double restoreRate) =>
        _buckets[shop] = new Bucket(maximum, available, restoreRate, clock.GetUtcNow());

    private sealed record Bucket(double Maximum, double Available, double RestoreRate, DateTimeOffset At);
}
