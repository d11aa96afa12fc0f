namespace GrpcBank.Bus.RabbitMq;

/// <summary>Where and how the bus publishes (configuration keys: ARCHITECTURE.md and README, "Event bus").</summary>
public sealed record RabbitMqBusOptions(Uri Url)
{
    public const string DefaultExchange = "grpcbank.events";
    public const string DefaultSource = "grpcbank";

    /// <summary>The durable topic exchange every event goes to, routed by its storage name.</summary>
    public string Exchange { get; init; } = DefaultExchange;

    /// <summary>The CloudEvents <c>source</c>: which bank instance speaks (a URI reference).</summary>
    public Uri Source { get; init; } = new(DefaultSource, UriKind.RelativeOrAbsolute);

    /// <summary>How long a batch may wait for the broker's confirms before it counts as failed (and is published again).</summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long opening a connection may take: a broker that does not answer is an outage, retried later.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the bus tries an unavailable broker again itself, before it reports the failure to the relay.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the bus keeps trying itself; beyond, the relay backs it off and shows it failing.</summary>
    public TimeSpan RetryFor { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Routing filter (<c>Bus:RabbitMq:EventTypePrefixes</c>): only events whose storage name starts with one of these
    /// (ordinal, case-sensitive: <c>accounts.</c>, <c>payments.PaymentCaptured.</c>) are published; empty publishes
    /// every event. The others are passed over, not held back: the bus's checkpoint moves past them all the same.
    /// </summary>
    public IReadOnlyList<string> EventTypePrefixes { get; init; } = [];

    /// <summary>Whether an event of storage name <paramref name="eventType"/> goes to the broker (see <see cref="EventTypePrefixes"/>).</summary>
    public bool Publishes(string eventType)
    {
        if (EventTypePrefixes.Count == 0) return true;
        foreach (var prefix in EventTypePrefixes)
            if (eventType.StartsWith(prefix, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>The broker's address without credentials, for logs and errors.</summary>
    public string Broker => $"{Url.Host}:{(Url.IsDefaultPort ? 5672 : Url.Port)}{Url.AbsolutePath}";
}
