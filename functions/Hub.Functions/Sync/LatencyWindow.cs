namespace Hub.Functions.Sync;

/// <summary>
/// The last <see cref="Size"/> durations of something (in milliseconds), for /api/health: how long the handler itself
/// took to answer webhooks, apart from the host's forwarding and the network. Thread-safe; a snapshot sorts a copy.
/// </summary>
public sealed class LatencyWindow
{
    public const int Size = 1024;

    private readonly double[] _samples = new double[Size];
    private long _count;

    public void Add(TimeSpan elapsed)
    {
        var slot = Interlocked.Increment(ref _count) - 1;
        Volatile.Write(ref _samples[slot % Size], elapsed.TotalMilliseconds);
    }

    /// <summary>Samples taken in all, and the p50, p99 and max of the last ones (zeros when there are none).</summary>
    public (long Count, double P50, double P99, double Max) Snapshot()
    {
        var count = Interlocked.Read(ref _count);
        var n = (int)Math.Min(count, Size);
        if (n == 0)
        {
            return (0, 0, 0, 0);
        }

        var copy = new double[n];
        Array.Copy(_samples, copy, n);
        Array.Sort(copy);
        double At(double p) => copy[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)];
        return (count, At(0.5), At(0.99), copy[^1]);
    }
}
