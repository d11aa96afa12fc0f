using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Application.ReadSide;

/// <summary>Feeds the relay's events into the read store.</summary>
public sealed class ReadStoreSink(IReadStore readStore) : IEventSink
{
    public string Name => "read-side";

    public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) =>
        readStore.ApplyAsync(events, watermark, ct);
}
