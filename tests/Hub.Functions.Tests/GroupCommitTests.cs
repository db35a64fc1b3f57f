using System.Collections.Concurrent;
using Hub.Functions.Sync;
using Xunit;

namespace Hub.Functions.Tests;

public class GroupCommitTests
{
    /// <summary>A flush that records what it was given and waits until the test lets it finish.</summary>
    private sealed class Gate
    {
        public ConcurrentQueue<string[]> Flushes { get; } = new();

        public SemaphoreSlim Release { get; } = new(0);

        public Func<string, string, bool> Fails { get; init; } = (_, _) => false;

        public async Task<IReadOnlyList<string>> FlushAsync(string key, IReadOnlyList<string> items)
        {
            Flushes.Enqueue([.. items]);
            await Release.WaitAsync();
            if (items.Any(i => Fails(key, i)))
            {
                throw new InvalidOperationException("storage refused the group");
            }

            return items.Select(i => $"{key}:{i}").ToList();
        }
    }

    [Fact]
    public async Task ALoneItemIsFlushedAtOnce_ItemsArrivingMeanwhileShareTheNextFlush_EachCallerGetsItsOwnResult()
    {
        var gate = new Gate();
        var commit = new GroupCommit<string, string, string>(gate.FlushAsync, maxItems: 100, _ => 1, maxWeight: 1000);

        var first = commit.AddAsync("shop", "a", default);
        await Until.TrueAsync(() => gate.Flushes.Count == 1);
        var waiting = new[] { "b", "c", "d" }.Select(i => commit.AddAsync("shop", i, default)).ToList();
        var otherKey = commit.AddAsync("other", "x", default);
        await Until.TrueAsync(() => gate.Flushes.Count == 2); // another key does not wait for this one
        gate.Release.Release(2);

        Assert.Equal("shop:a", await first);
        await Until.TrueAsync(() => gate.Flushes.Count == 3);
        gate.Release.Release();
        Assert.Equal(["shop:b", "shop:c", "shop:d"], await Task.WhenAll(waiting));
        Assert.Equal("other:x", await otherKey);
        Assert.Equal([["a"], ["x"], ["b", "c", "d"]], gate.Flushes.ToList());
        Assert.Equal((3L, 5L), commit.Counts);
    }

    [Fact]
    public async Task GroupsStopAtTheirItemAndWeightLimits()
    {
        var gate = new Gate();
        var commit = new GroupCommit<string, string, string>(gate.FlushAsync, maxItems: 2, i => i.Length, maxWeight: 4);

        var first = commit.AddAsync("shop", "a", default);
        await Until.TrueAsync(() => gate.Flushes.Count == 1);
        var rest = new[] { "b", "c", "d", "eeee", "f", "g" }.Select(i => commit.AddAsync("shop", i, default)).ToList();
        gate.Release.Release(10);
        await first;
        await Task.WhenAll(rest);

        // b and c fill a group of two items; d and eeee would weigh 5 of 4, so eeee waits alone, and f too.
        Assert.Equal([["a"], ["b", "c"], ["d"], ["eeee"], ["f", "g"]], gate.Flushes.ToList());
    }

    [Fact]
    public async Task AFailedFlush_FailsEveryCallerOfItsGroup_AndNoOther()
    {
        var gate = new Gate { Fails = (_, item) => item == "c" };
        var commit = new GroupCommit<string, string, string>(gate.FlushAsync, maxItems: 100, _ => 1, maxWeight: 1000);

        var first = commit.AddAsync("shop", "a", default);
        await Until.TrueAsync(() => gate.Flushes.Count == 1);
        var b = commit.AddAsync("shop", "b", default);
        var c = commit.AddAsync("shop", "c", default);
        gate.Release.Release(2);

        Assert.Equal("shop:a", await first);
        Assert.Equal("storage refused the group", (await Assert.ThrowsAsync<InvalidOperationException>(() => b)).Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => c);

        // The key is free again: the next item is flushed on its own and succeeds.
        var d = commit.AddAsync("shop", "d", default);
        gate.Release.Release();
        Assert.Equal("shop:d", await d);
    }

    [Fact]
    public async Task ACallerThatStopsWaiting_DoesNotStopTheFlush()
    {
        var gate = new Gate();
        var commit = new GroupCommit<string, string, string>(gate.FlushAsync, maxItems: 100, _ => 1, maxWeight: 1000);
        using var cts = new CancellationTokenSource();

        var first = commit.AddAsync("shop", "a", cts.Token);
        await Until.TrueAsync(() => gate.Flushes.Count == 1);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        gate.Release.Release();
        await Until.TrueAsync(() => commit.Counts == (1L, 1L));
    }
}
