using GrpcBank.Application.EventStore;

namespace GrpcBank.Bus.Tests;

/// <summary>What the event store holds against what reached a queue.</summary>
public static class Delivery
{
    /// <summary>
    /// Waits until every event the store holds has reached <paramref name="queue"/> and the store has stopped growing
    /// (the payment process may still be adding events after the last command's reply); returns both. With
    /// <paramref name="bound"/>, only the stored events the queue's binding selects.
    /// </summary>
    public static async Task<(List<RecordedEvent> Stored, IReadOnlyList<Received> Received)> EverythingAsync(
        IEventStore store, BusQueue queue, TimeSpan timeout, Func<RecordedEvent, bool>? bound = null)
    {
        List<RecordedEvent> stored = [];
        var received = await queue.WaitUntilAsync(async messages =>
        {
            var now = (await MixedWorkload.StoredAsync(store)).Where(bound ?? (_ => true)).ToList();
            var settled = now.Count == stored.Count;
            stored = now;
            var ids = messages.Select(m => m.Id).ToHashSet();
            return settled && stored.All(e => ids.Contains(e.EventId));
        }, timeout, "every stored event reaches the queue");
        return (stored, received);
    }

    /// <summary>
    /// True when, dropping repeats by id as a consumer does, each stream's events arrived in version order 1, 2, 3, …
    /// without a hole; else the first stream where not, for the message.
    /// </summary>
    public static string? FirstStreamOutOfOrder(IEnumerable<Received> received)
    {
        var seen = new HashSet<Guid>();
        foreach (var stream in received.Where(r => seen.Add(r.Id)).GroupBy(r => r.Subject))
        {
            var versions = stream.Select(r => r.StreamVersion).ToList();
            if (!versions.SequenceEqual(Enumerable.Range(1, versions.Count).Select(v => (long)v)))
                return $"{stream.Key}: {string.Join(", ", versions)}";
        }
        return null;
    }
}

public static class Eventually
{
    /// <summary>Polls until <paramref name="probe"/> yields a value, for at most 60 s.</summary>
    public static async Task<T> Async<T>(Func<Task<T?>> probe) where T : class
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > until) Assert.Fail("the condition did not come true within 60 s");
            await Task.Delay(100);
        }
    }
}
