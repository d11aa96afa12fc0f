using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Relay;

/// <summary>
/// A consumer fed by the relay. Delivery is at-least-once, in per-stream order: handling the same
/// event twice must change nothing.
/// </summary>
public interface IEventSink
{
    string Name { get; }

    /// <summary>Called each time this process becomes the active relay, before the first batch.</summary>
    Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    /// <param name="watermark">Once this returns, every committed event ≤ watermark has been handled.</param>
    Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct);
}
