using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Feeds the relay's events into the read store. An empty read store (new, or reset after a schema
/// change) is first rebuilt from the event store, since the outbox only holds what is not yet delivered.
/// </summary>
public sealed class ReadStoreSink(IReadStore readStore, IEventStore store, ILogger<ReadStoreSink> logger) : IEventSink
{
    private const int ReplayBatch = 1_000;

    public string Name => "read-side";

    public async Task StartAsync(CancellationToken ct)
    {
        if (await readStore.AppliedPositionAsync(ct) > 0) return;
        long after = 0, replayed = 0;
        while (true)
        {
            var events = await store.ReadAllAsync(after, ReplayBatch, ct);
            if (events.Count == 0) break;
            // Watermark 0: replayed views are exact, but only the relay knows which positions are settled.
            await readStore.ApplyAsync(events, 0, ct);
            after = events[^1].Position;
            replayed += events.Count;
        }
        if (replayed > 0) logger.LogInformation("Read side rebuilt from {Count} events of the event store", replayed);
    }

    public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) =>
        readStore.ApplyAsync(events, watermark, ct);
}
