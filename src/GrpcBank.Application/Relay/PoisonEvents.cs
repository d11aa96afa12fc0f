using System.Text.Json;
using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Keeps one unprocessable event from blocking everything behind it: the batch is retried one append at a time, and an
/// append that still fails one event at a time; the event that still fails because of its content is dead-lettered
/// (logged, counted, listed, retryable). Appends without a poison event are thus still handled whole, so a consumer never
/// shows half of one. Failures of the consumer itself (an unreachable store) propagate, so the caller backs off and retries.
/// </summary>
public static class PoisonEvents
{
    /// <summary>
    /// Failures caused by an event's content, which no retry can fix, or by what it meets (<see cref="RefusedEventException"/>),
    /// which only a retry after someone has changed that can.
    /// </summary>
    public static bool IsPoison(Exception e) => e is InvalidDataException or JsonException or NotSupportedException or RefusedEventException;

    /// <param name="appends">The batch, grouped by the append that wrote each event.</param>
    /// <returns>How many events were dead-lettered.</returns>
    public static async Task<int> HandleAsync(
        string consumer, IReadOnlyList<IReadOnlyList<RecordedEvent>> appends, long watermark, Func<IReadOnlyList<RecordedEvent>, long, Task> handle,
        IDeadLetters deadLetters, TimeProvider clock, ILogger logger, CancellationToken ct)
    {
        if (await HandledAsync([.. appends.SelectMany(a => a)], watermark, handle) is null) return 0;
        var deadLettered = 0;
        foreach (var append in appends)
        {
            if (append.Count > 1 && await HandledAsync(append, 0, handle) is null) continue;
            foreach (var single in append)
            {
                if (await HandledAsync([single], 0, handle) is not { } poison) continue;
                logger.LogError(poison, "{Consumer} cannot handle {EventType} at position {Position} ({StreamId}@{Version}); dead-lettered",
                    consumer, single.EventType, single.Position, single.StreamId, single.StreamVersion);
                // Counted once per letter: a redelivery of the same event (a crash or a lost lease before the checkpoint
                // moved) refreshes the letter it already has, and would otherwise show as one more event set aside.
                if (await deadLetters.AddAsync(consumer, single, $"{poison.GetType().Name}: {poison.Message}", clock.GetUtcNow(), ct))
                    Telemetry.DeadLetters.Add(1, new KeyValuePair<string, object?>("sink", consumer), new("event_type", single.EventType));
                deadLettered++;
            }
        }
        await handle([], watermark);
        return deadLettered;
    }

    /// <returns>Null when handled; the exception when the events' content is what the consumer refused.</returns>
    private static async Task<Exception?> HandledAsync(IReadOnlyList<RecordedEvent> events, long watermark, Func<IReadOnlyList<RecordedEvent>, long, Task> handle)
    {
        try
        {
            await handle(events, watermark);
            return null;
        }
        catch (Exception e) when (IsPoison(e))
        {
            return e;
        }
    }
}
