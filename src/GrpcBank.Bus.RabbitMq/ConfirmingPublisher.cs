using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace GrpcBank.Bus.RabbitMq;

/// <summary>A message ready to publish: its routing key, properties and body.</summary>
public sealed record OutgoingMessage(string RoutingKey, BasicProperties Properties, ReadOnlyMemory<byte> Body);

/// <summary>
/// One connection and one channel in confirm mode, opened on demand and thrown away on any failure (no automatic
/// recovery: the relay's retry is the recovery, so a batch is either confirmed whole or published again whole) — but
/// for a block (<c>connection.blocked</c>, a broker's memory or disk alarm), which fails batches at once, saying so,
/// and keeps the connection for when the alarm clears.
/// Confirms are tracked here rather than by the client: the client's tracking throttles with delays that can reorder
/// concurrent publishes, while here messages are written one after another on the one channel — the broker keeps the
/// order of a channel — and only then are all their confirms awaited together, as one wait on the batch's last sequence
/// number (<see cref="ConfirmWindow"/>). Not thread-safe: one caller at a time.
/// </summary>
public sealed class ConfirmingPublisher(RabbitMqBusOptions options, ILogger logger) : IAsyncDisposable
{
    /// <summary>How long closing a channel and its connection may hold the caller (see <see cref="CloseAsync"/>).</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The open channel's confirms (a new window per channel).</summary>
    private ConfirmWindow confirms = new();
    private IConnection? connection;
    private IChannel? channel;

    /// <summary>
    /// Why the broker blocks the open connection from publishing (<c>connection.blocked</c>: a memory or disk alarm), or
    /// null. Set and cleared on the client's dispatcher, read by the caller.
    /// </summary>
    private volatile string? blockedBecause;

    /// <summary>The deadline of the batch being published, cancelled early when the broker blocks the connection.</summary>
    private CancellationTokenSource? inFlight;

    /// <summary>Connects and declares the exchange, unless already open.</summary>
    public async Task OpenAsync(CancellationToken ct)
    {
        if (channel is { IsOpen: true }) return;
        await CloseAsync();
        try
        {
            var factory = new ConnectionFactory
            {
                Uri = options.Url,
                AutomaticRecoveryEnabled = false,
                TopologyRecoveryEnabled = false,
                RequestedConnectionTimeout = options.ConnectTimeout,
                ClientProvidedName = $"grpcbank event bus ({options.Source})",
            };
            var connected = connection = await factory.CreateConnectionAsync(ct);
            blockedBecause = null;
            connected.ConnectionBlockedAsync += (_, blocked) =>
            {
                if (!ReferenceEquals(connection, connected)) return Task.CompletedTask;
                blockedBecause = blocked.Reason;
                // Nothing the broker was sent is read until the alarm clears: the batch in flight (waiting for its confirms,
                // or for room to write a large batch) fails now, saying why, rather than when the confirm timeout ends it
                // as if the broker had gone silent.
                try
                {
                    Volatile.Read(ref inFlight)?.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The batch ended meanwhile.
                }
                return Task.CompletedTask;
            };
            connected.ConnectionUnblockedAsync += (_, _) =>
            {
                if (ReferenceEquals(connection, connected)) blockedBecause = null;
                return Task.CompletedTask;
            };
            var opened = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false), ct);
            // Sequence numbers start again on every channel: a late confirm of an old channel must not settle a new one's.
            var window = confirms = new ConfirmWindow();
            opened.BasicAcksAsync += (_, ack) =>
            {
                window.Ack(ack.DeliveryTag, ack.Multiple);
                return Task.CompletedTask;
            };
            opened.BasicNacksAsync += (_, nack) =>
            {
                window.Nack(nack.DeliveryTag, nack.Multiple);
                return Task.CompletedTask;
            };
            opened.ChannelShutdownAsync += (_, shutdown) =>
            {
                window.Fail($"the channel closed: {shutdown.ReplyCode} {shutdown.ReplyText}");
                return Task.CompletedTask;
            };
            await opened.ExchangeDeclareAsync(options.Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: ct);
            channel = opened;
            logger.LogInformation("Event bus connected to RabbitMQ at {Broker}, exchange {Exchange}, publishing {EventTypes}", options.Broker, options.Exchange,
                options.EventTypePrefixes.Count == 0 ? "every event" : $"event types starting with {string.Join(", ", options.EventTypePrefixes)}");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            await CloseAsync();
            throw new BusUnavailableException($"cannot open a channel to RabbitMQ at {options.Broker}: {WhyNotConnected(e)}", e);
        }
    }

    /// <summary>
    /// The client says "None of the specified endpoints were reachable" for every failed connection, including a broker
    /// that answered and refused (credentials, a vhost): read as an outage, that sends an operator to the wrong place. The
    /// innermost cause says what happened (<c>ACCESS_REFUSED - Login was refused…</c>, <c>Connection refused</c>).
    /// </summary>
    private static string WhyNotConnected(Exception e)
    {
        if (e is not BrokerUnreachableException) return e.Message;
        var cause = e;
        while (cause.InnerException is { } inner) cause = inner;
        return cause.Message;
    }

    /// <summary>Publishes <paramref name="messages"/> in order; returns once the broker has confirmed every one.</summary>
    public async Task PublishAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken ct)
    {
        if (messages.Count == 0) return;
        await OpenAsync(ct);
        // Kept open while blocked: the connection is well, only held. Writing more into it would queue behind what the
        // broker does not read, and a new connection would be blocked the same at its first publish.
        if (blockedBecause is { } still) throw new BusUnavailableException($"{Blocked(still)}; {messages.Count} messages wait");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(options.ConfirmTimeout);
        Volatile.Write(ref inFlight, deadline);
        if (blockedBecause is not null) await deadline.CancelAsync(); // blocked before the deadline could be reached
        var published = 0;
        try
        {
            // The channel numbers its publishes one by one, and only this caller publishes on it: the batch's sequence
            // numbers are first … first + count - 1, registered before the first publish so no confirm can come untracked.
            var first = await channel!.GetNextPublishSequenceNumberAsync(deadline.Token);
            var confirmed = confirms.Expect(first, first + (ulong)messages.Count - 1);
            foreach (var message in messages)
            {
                await channel.BasicPublishAsync(options.Exchange, message.RoutingKey, mandatory: false, message.Properties, message.Body, deadline.Token);
                published++;
            }
            await confirmed.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && blockedBecause is { } blocked && published == messages.Count)
        {
            // The broker blocked the connection meanwhile (a resource alarm): it keeps what it was sent and reads it once the
            // alarm clears; the batch is published again then, on this same channel, after those messages (repeats, in order).
            // A batch cut while being written is not kept: the channel's numbering may then be off by the cut publish.
            throw new BusUnavailableException($"{Blocked(blocked)}; a batch of {messages.Count} messages ({published} written) is published again once it unblocks", e);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Whatever was not confirmed is published again with the whole batch; the channel may be in any state.
            await CloseAsync();
            var reason = blockedBecause is { } blocked ? Blocked(blocked) : e is OperationCanceledException ? $"no confirm within {options.ConfirmTimeout.TotalSeconds:0} s" : e.Message;
            throw new BusUnavailableException(
                $"RabbitMQ at {options.Broker} did not confirm a batch of {messages.Count} messages ({published} written; {reason}); the batch is published again", e);
        }
        finally
        {
            Interlocked.CompareExchange(ref inFlight, null, deadline);
        }
    }

    private string Blocked(string reason) => $"RabbitMQ at {options.Broker} has blocked publishers ({reason}: a resource alarm, until it clears)";

    private async Task CloseAsync()
    {
        var (oldChannel, oldConnection) = (channel, connection);
        (channel, connection) = (null, null);
        confirms.Fail("the channel was closed");
        // The client's close waits for the broker's replies (the channel's, then the connection's: some 45 s in all
        // from a broker that answers nothing), which held a failed batch's retry, and the server's stop, that long.
        // Past a short wait the rest of the close goes on in the background: this connection is not used again.
        try
        {
            await CloseQuietlyAsync(oldChannel, oldConnection).WaitAsync(CloseTimeout);
        }
        catch (TimeoutException)
        {
            logger.LogDebug("RabbitMQ at {Broker} did not answer the close within {Timeout}; the connection closes in the background", options.Broker, CloseTimeout);
        }
    }

    private async Task CloseQuietlyAsync(IChannel? oldChannel, IConnection? oldConnection)
    {
        try
        {
            if (oldChannel is not null) await oldChannel.DisposeAsync();
            if (oldConnection is not null) await oldConnection.DisposeAsync();
        }
        catch (Exception e)
        {
            // A connection that is already gone may fail to close; it is dropped either way.
            logger.LogDebug(e, "Closing the event bus connection failed");
        }
    }

    public async ValueTask DisposeAsync() => await CloseAsync();
}
