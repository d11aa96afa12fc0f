using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Relay;

/// <summary>
/// A consumer fed by the relay. Delivery is at-least-once, in per-stream order: handling the same
/// event twice must change nothing.
/// </summary>
public interface IEventSink
{
    string Name { get; }

    /// <summary>
    /// Called each time this process becomes the active relay, before the first batch. A start that works through a
    /// backlog (the read side's replay of the event store into an empty read store) calls <paramref name="progressed"/>
    /// each time it gets on (a page): the relay takes each call as a pass, the consumer's heartbeat, so a long start is
    /// not taken for a stuck consumer while one that stops getting on still is.
    /// </summary>
    Task StartAsync(Action progressed, CancellationToken ct) => Task.CompletedTask;

    /// <param name="watermark">Once this returns, every committed event ≤ watermark has been handled.</param>
    Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct);
}
