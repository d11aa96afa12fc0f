using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace GrpcBank.Bus.RabbitMq;

/// <summary>A message ready to publish: its routing key, properties and body.</summary>
public sealed record OutgoingMessage(string RoutingKey, BasicProperties Properties, ReadOnlyMemory<byte> Body);

/// <summary>
/// One connection and one channel in confirm mode, opened on demand and thrown away on any failure (no automatic
/// recovery: the relay's retry is the recovery, so a batch is either confirmed whole or published again whole).
/// Confirms are tracked here rather than by the client: the client's tracking throttles with delays that can reorder
/// concurrent publishes, while here messages are written one after another on the one channel — the broker keeps the
/// order of a channel — and only then are all their confirms awaited together. Not thread-safe: one caller at a time.
/// </summary>
public sealed class ConfirmingPublisher(RabbitMqBusOptions options, ILogger logger) : IAsyncDisposable
{
    /// <summary>The open channel's messages awaiting their confirm, by sequence number (a new set per channel).</summary>
    private ConcurrentDictionary<ulong, TaskCompletionSource> unconfirmed = new();
    private IConnection? connection;
    private IChannel? channel;

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
            connection = await factory.CreateConnectionAsync(ct);
            var opened = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false), ct);
            // Sequence numbers start again on every channel: a late confirm of an old channel must not settle a new one's.
            var pending = unconfirmed = new ConcurrentDictionary<ulong, TaskCompletionSource>();
            opened.BasicAcksAsync += (_, ack) => Settle(pending, ack.DeliveryTag, ack.Multiple, null);
            opened.BasicNacksAsync += (_, nack) => Settle(pending, nack.DeliveryTag, nack.Multiple, "the broker refused (nacked) it");
            opened.ChannelShutdownAsync += (_, shutdown) => FailAll(pending, $"the channel closed: {shutdown.ReplyCode} {shutdown.ReplyText}");
            await opened.ExchangeDeclareAsync(options.Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: ct);
            channel = opened;
            logger.LogInformation("Event bus connected to RabbitMQ at {Broker}, exchange {Exchange}", options.Broker, options.Exchange);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            await CloseAsync();
            throw new BusUnavailableException($"cannot open a channel to RabbitMQ at {options.Broker}: {e.Message}", e);
        }
    }

    /// <summary>Publishes <paramref name="messages"/> in order; returns once the broker has confirmed every one.</summary>
    public async Task PublishAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken ct)
    {
        await OpenAsync(ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(options.ConfirmTimeout);
        var confirms = new List<Task>(messages.Count);
        try
        {
            foreach (var message in messages)
            {
                // Registered before the publish, so a confirm can never arrive for an untracked message.
                var sequence = await channel!.GetNextPublishSequenceNumberAsync(deadline.Token);
                var confirmed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                unconfirmed[sequence] = confirmed;
                confirms.Add(confirmed.Task);
                await channel.BasicPublishAsync(options.Exchange, message.RoutingKey, mandatory: false, message.Properties, message.Body, deadline.Token);
            }
            await Task.WhenAll(confirms).WaitAsync(deadline.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Whatever was not confirmed is published again with the whole batch; the channel may be in any state.
            await CloseAsync();
            var done = confirms.Count(t => t.IsCompletedSuccessfully);
            var reason = e is OperationCanceledException ? $"no confirm within {options.ConfirmTimeout.TotalSeconds:0} s" : e.Message;
            throw new BusUnavailableException(
                $"RabbitMQ at {options.Broker} confirmed {done} of {messages.Count} messages ({reason}); the batch is published again", e);
        }
    }

    private static Task Settle(ConcurrentDictionary<ulong, TaskCompletionSource> unconfirmed, ulong deliveryTag, bool multiple, string? refusal)
    {
        IEnumerable<ulong> tags = multiple ? unconfirmed.Keys.Where(k => k <= deliveryTag).ToList() : [deliveryTag];
        foreach (var tag in tags)
            if (unconfirmed.TryRemove(tag, out var confirmed))
                if (refusal is null) confirmed.TrySetResult();
                else confirmed.TrySetException(new BusUnavailableException($"message {tag}: {refusal}"));
        return Task.CompletedTask;
    }

    private static Task FailAll(ConcurrentDictionary<ulong, TaskCompletionSource> unconfirmed, string reason)
    {
        foreach (var tag in unconfirmed.Keys.ToList())
            if (unconfirmed.TryRemove(tag, out var confirmed)) confirmed.TrySetException(new BusUnavailableException(reason));
        return Task.CompletedTask;
    }

    private async Task CloseAsync()
    {
        var (oldChannel, oldConnection) = (channel, connection);
        (channel, connection) = (null, null);
        await FailAll(unconfirmed, "the channel was closed");
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
