using Xunit;

namespace Hub.Functions.Tests;

/// <summary>Waits for something background work does (up to 5 s, looking every 10 ms), then asserts it.</summary>
internal static class Until
{
    public static async Task TrueAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
