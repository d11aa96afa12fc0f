using System.Collections.Concurrent;
using CloudNative.CloudEvents;
using GrpcBank.Bus.RabbitMq;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace GrpcBank.Bus.Tests;

/// <summary>One message as a consumer outside the bank receives it.</summary>
public sealed record Received(CloudEvent Event, string RoutingKey, bool Persistent, string? ContentType)
{
    public Guid Id => Guid.Parse(Event.Id!);

    public string Subject => Event.Subject!;

    public long Position => long.Parse((string)Event[CloudEventMapping.Position]!);

    public long StreamVersion => long.Parse((string)Event[CloudEventMapping.StreamVersion]!);
}

/// <summary>
/// A durable queue bound to a test's exchange, read as an outside consumer would: manual acks, every message kept in
/// arrival order, duplicates included. Declared before the bank publishes (a topic exchange drops what no queue is bound
/// to); read while the bank publishes, or afterwards (it survives a broker restart).
/// </summary>
public sealed class BusQueue : IAsyncDisposable
{
    private readonly string url;
    private readonly string queue;
    private readonly ConcurrentQueue<Received> received = new();
    private IConnection? connection;

    private BusQueue(string url, string queue)
    {
        this.url = url;
        this.queue = queue;
    }

    /// <summary>Every message so far, in arrival order.</summary>
    public IReadOnlyList<Received> Messages => [.. received];

    public static async Task<BusQueue> DeclareAsync(string url, string exchange, string bindingKey = "#")
    {
        var name = $"test-{Guid.NewGuid():N}";
        await using var connection = await new ConnectionFactory { Uri = new Uri(url) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // As the bank declares it; whoever comes first creates it.
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(name, exchange, bindingKey);
        return new BusQueue(url, name);
    }

    /// <summary>Starts receiving (one connection; a broker restart ends it — start again afterwards).</summary>
    public async Task StartAsync()
    {
        if (connection is not null) await connection.DisposeAsync();
        connection = await new ConnectionFactory { Uri = new Uri(url), AutomaticRecoveryEnabled = false }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(0, 500, false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var cloudEvent = CloudEventMapping.Decode(delivery.Body.ToArray(), delivery.BasicProperties.ContentType);
            received.Enqueue(new Received(cloudEvent, delivery.RoutingKey, delivery.BasicProperties.Persistent, delivery.BasicProperties.ContentType));
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
    }

    /// <summary>Waits until <paramref name="done"/> holds for the messages so far; fails saying how many came.</summary>
    public async Task<IReadOnlyList<Received>> WaitUntilAsync(Func<IReadOnlyList<Received>, Task<bool>> done, TimeSpan timeout, string what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var messages = Messages;
            if (await done(messages)) return messages;
            if (deadline.IsCancellationRequested)
                Assert.Fail($"Within {timeout.TotalSeconds:0} s: {what}; {messages.Count} messages arrived");
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (connection is not null) await connection.DisposeAsync();
    }
}
