namespace Hub.Testing;

/// <summary>Polls a condition until it holds or a generous deadline passes (for asynchronous end-to-end effects).</summary>
public static class Eventually
{
    public static async Task<T> ReturnsAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds} s waiting for {what}. Last value: {last}");
            }

            await Task.Delay(200);
            last = await probe();
        }

        return last;
    }
}
