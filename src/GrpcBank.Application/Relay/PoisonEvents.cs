using System.Text.Json;
using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Keeps one unprocessable event from blocking everything behind it: the batch is retried one event at a time
/// and the event that still fails because of its content is dead-lettered (logged, counted, listed, retryable).
/// Failures of the consumer itself (an unreachable store) propagate, so the caller backs off and retries.
/// </summary>
public static class PoisonEvents
{
    /// <summary>Failures caused by an event's content, which no retry can fix.</summary>
    public static bool IsPoison(Exception e) => e is InvalidDataException or JsonException or NotSupportedException;

    /// <returns>How many events were dead-lettered.</returns>
    public static async Task<int> HandleAsync(
        string consumer, IReadOnlyList<RecordedEvent> events, long watermark, Func<IReadOnlyList<RecordedEvent>, long, Task> handle,
        IDeadLetters deadLetters, TimeProvider clock, ILogger logger, CancellationToken ct)
    {
        try
        {
            await handle(events, watermark);
            return 0;
        }
        catch (Exception e) when (IsPoison(e))
        {
        }
        var deadLettered = 0;
        foreach (var single in events)
        {
            try
            {
                await handle([single], 0);
            }
            catch (Exception poison) when (IsPoison(poison))
            {
                logger.LogError(poison, "{Consumer} cannot handle {EventType} at position {Position} ({StreamId}@{Version}); dead-lettered",
                    consumer, single.EventType, single.Position, single.StreamId, single.StreamVersion);
                await deadLetters.AddAsync(consumer, single, $"{poison.GetType().Name}: {poison.Message}", clock.GetUtcNow(), ct);
                Telemetry.DeadLetters.Add(1, new KeyValuePair<string, object?>("sink", consumer), new("event_type", single.EventType));
                deadLettered++;
            }
        }
        await handle([], watermark);
        return deadLettered;
    }
}
