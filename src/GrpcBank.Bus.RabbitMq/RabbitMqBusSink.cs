using GrpcBank.Application;
using System.Buffers;
using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace GrpcBank.Bus.RabbitMq;

/// <summary>
/// The event bus: one more relay consumer, with its own checkpoint, that publishes every event to a durable topic
/// exchange as a CloudEvent (<see cref="CloudEventMapping"/>), routed by its storage name, persistent. The relay moves
/// the checkpoint only after this returns, and this returns only once the broker has confirmed the whole batch — so
/// nothing is lost, and a failure republishes the batch (at-least-once: consumers drop duplicates by the CloudEvents
/// id). A broker that is down fails this consumer alone: the relay backs it off and keeps feeding the others, and it
/// catches up from its checkpoint when the broker returns. An event whose payload is not JSON is a poison event:
/// dead-lettered for this consumer, listed and retryable like any other.
/// </summary>
public sealed class RabbitMqBusSink(RabbitMqBusOptions options, ILogger<RabbitMqBusSink> logger) : IEventSink, IAsyncDisposable
{
    public const string SinkName = "event-bus";

    private readonly ConfirmingPublisher publisher = new(options, logger);
    /// <summary>Bus:Source as written: <see cref="Uri.ToString"/> normalises it (<c>https://bank.example.com/</c>, with a slash).</summary>
    private readonly string source = options.Source.OriginalString;

    /// <summary>One batch at a time: the relay's and a dead-letter retry's publishes must not interleave on the channel.</summary>
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>Tries that found the broker unavailable since it last confirmed a batch (touched under <see cref="gate"/>).</summary>
    private readonly OutageLog outage = new(logger);

    public string Name => SinkName;

    // No StartAsync: the broker is first contacted when there is something to publish. Waiting for it before the first
    // pass kept the bus from reading its checkpoint, so a server restarted while the broker was down showed the bus at
    // position 0, lagging by the whole history, with nothing at all left to publish.

    public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        if (options.EventTypePrefixes.Count > 0) events = [.. events.Where(e => options.Publishes(e.EventType))];
        if (events.Count == 0) return; // filtered out or empty: the checkpoint moves past them all the same
        // Every message is made before any is sent: a poison event fails the batch before it reaches the broker.
        var messages = ToMessages(events);
        await WhileReachableAsync(() => publisher.PublishAsync(messages, ct), ct);
    }

    /// <summary>
    /// Runs <paramref name="work"/> alone on the channel, trying again every <see cref="RabbitMqBusOptions.RetryInterval"/>
    /// while the broker is unavailable, for up to <see cref="RabbitMqBusOptions.RetryFor"/>; then the failure goes to the
    /// relay, which backs this consumer off (doubling, up to 5 s: <see cref="Backoff"/>) and shows it failing. Retrying
    /// here first means a broker restart costs seconds, not the relay's longest back-off, and only an outage that lasts is
    /// reported. The first failed try of an outage is a warning, the rest are not (they were about one a second for as
    /// long as it lasted), and the first confirmed batch after it says so.
    /// </summary>
    private async Task WhileReachableAsync(Func<Task> work, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            // Time that passes (the monotonic clock): a wall clock set back or forward meanwhile stretched or cut the retries.
            var started = Stopwatch.GetTimestamp();
            while (true)
            {
                try
                {
                    await work();
                    outage.Worked("Event bus: the broker confirms again");
                    return;
                }
                catch (BusUnavailableException e) when (Stopwatch.GetElapsedTime(started) + options.RetryInterval < options.RetryFor)
                {
                    // Its message says all there is (which broker, why): no stack trace.
                    outage.Failed(null, "Event bus: {Error}; trying again every {Interval} until the broker confirms", e.Message, options.RetryInterval);
                    await Task.Delay(options.RetryInterval, ct);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The batch's messages, their bodies written one after another into one buffer (no garbage per message).</summary>
    private List<OutgoingMessage> ToMessages(IReadOnlyList<RecordedEvent> events)
    {
        var buffer = new ArrayBufferWriter<byte>(events.Count * 512);
        var ends = new int[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            CloudEventMapping.WriteBody(events[i], source, buffer);
            ends[i] = buffer.WrittenCount;
        }
        var bodies = buffer.WrittenMemory;
        var messages = new List<OutgoingMessage>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var start = i == 0 ? 0 : ends[i - 1];
            var properties = new BasicProperties
            {
                Persistent = true,
                ContentType = CloudEventMapping.ContentType,
                // The CloudEvent's id and type again, for tools that read AMQP properties only (RabbitMQ's UI, shovels).
                MessageId = e.EventId.ToString(),
                Type = e.EventType,
                AppId = source,
                Timestamp = new AmqpTimestamp(e.RecordedAt.ToUnixTimeSeconds()),
            };
            messages.Add(new OutgoingMessage(e.EventType, properties, bodies[start..ends[i]]));
        }
        return messages;
    }

    public async ValueTask DisposeAsync() => await publisher.DisposeAsync();
}
