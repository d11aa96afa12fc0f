using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>Consumers at the same checkpoint share one read of the outbox; one behind falls into step; each still gets everything once.</summary>
public abstract partial class EventStoreConformance
{
    [Fact]
    public async Task ConsumersInStep_ShareOneOutboxRead_AndOneThatJoinsLate_FallsIntoStep_EachGettingEveryEventOnceInOrder()
    {
        var counting = new CountingStore(Store);
        var (a, b, late) = (new CountingSink("a"), new CountingSink("b"), new CountingSink("late"));
        var relay = new OutboxRelay(counting, [a, b, late], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System,
            NullLogger<OutboxRelay>.Instance);
        async Task PumpUntil(CountingSink sink, int delivered) =>
            await EventStoreProbes.Eventually(async () => { await relay.PumpOnceAsync(sink, Ct); return sink.Delivered.Count >= delivered; });

        // Each reads alone until it has completed a batch: only then is its checkpoint known here.
        for (var version = 0L; version < 3; version++) await AppendAsync("account-1", version, Event());
        await PumpUntil(a, 3);
        await PumpUntil(b, 3);

        // In step: a reads, b takes a's batch without reading.
        await AppendAsync("account-1", 3, Event(), Event());
        await PumpUntil(a, 5);
        var readsBefore = counting.OutboxReads;
        await relay.PumpOnceAsync(b, Ct);
        Assert.Equal(readsBefore, counting.OutboxReads);
        Assert.Equal([4L, 5L], b.Delivered.Skip(3).Select(e => e.StreamVersion));

        // A consumer that has read nothing yet cuts its first read at a's checkpoint, then takes a's next batch.
        await AppendAsync("account-1", 5, Event());
        await PumpUntil(a, 6);
        await AppendAsync("account-1", 6, Event());
        await PumpUntil(a, 7);
        await relay.PumpOnceAsync(late, Ct);
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], late.Delivered.Select(e => e.StreamVersion));
        readsBefore = counting.OutboxReads;
        await relay.PumpOnceAsync(late, Ct);
        Assert.Equal(readsBefore, counting.OutboxReads);

        await PumpUntil(b, 7);
        foreach (var sink in new[] { a, b, late })
        {
            Assert.Equal(Enumerable.Range(1, 7).Select(v => (long)v), sink.Delivered.Select(e => e.StreamVersion));
            // Each one's own checkpoint is past everything it was given.
            Assert.Empty((await Store.Outbox.ReadPendingAsync(sink.Name, 100, Ct)).Events);
        }
    }
}
