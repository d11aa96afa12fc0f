using System.Text.Json;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.EventStore;

/// <summary>The codecs of every bounded context, and decoding of any stored event.</summary>
public static class EventCodecs
{
    public static readonly EventCodec<AccountEvent> Accounts = new(AccountEventTypes.ByName, Upcasters.All);
    public static readonly EventCodec<OrderEvent> Orders = new(OrderEventTypes.ByName, Upcasters.All);
    public static readonly EventCodec<PaymentEvent> Payments = new(PaymentEventTypes.ByName, Upcasters.All);

    /// <summary>The domain event of a stored one, or null for a type no context knows (written by a newer version).</summary>
    public static object? Decode(RecordedEvent e) =>
        Accounts.Knows(e.EventType) ? Accounts.Decode(e)
        : Orders.Knows(e.EventType) ? Orders.Decode(e)
        : Payments.Knows(e.EventType) ? Payments.Decode(e)
        : null;

    /// <summary>The domain type a stored event decodes to, without decoding it; null for a type no context knows.</summary>
    public static Type? TypeOf(string eventType) => Accounts.TypeOf(eventType) ?? Orders.TypeOf(eventType) ?? Payments.TypeOf(eventType);

    /// <summary>
    /// Whether a stored event says it was settled atomically (<see cref="Settlement.Atomic"/>), read from its payload
    /// without decoding it: the property as the codecs name it, with the value they write, however the store spaces the
    /// JSON (PostgreSQL renders jsonb with a space after each colon). False when in doubt: a payload without the property
    /// (an older shape, completed by an upcaster) is decoded by the caller. Only the property itself matches: a quote
    /// inside a JSON string is always escaped, a quoted word followed by a colon is a key, and the events that have a
    /// settlement carry it at the top level only.
    /// </summary>
    public static bool SaysSettledAtomically(RecordedEvent e)
    {
        var json = e.DataJson.AsSpan();
        for (var at = json.IndexOf(SettlementKey, StringComparison.Ordinal); at >= 0; at = json.IndexOf(SettlementKey, StringComparison.Ordinal))
        {
            json = json[(at + SettlementKey.Length)..];
            // Not followed by a colon: the same word as a string value (a reference, say).
            if (json.TrimStart() is [':', .. var value]) return value.TrimStart().StartsWith(AtomicValue, StringComparison.Ordinal);
        }
        return false;
    }

    /// <summary><c>"settlement"</c> and <c>"atomic"</c>, as the codecs write the property and its value (their JSON settings are alike).</summary>
    private static readonly string SettlementKey = JsonSerializer.Serialize(EventCodec<PaymentEvent>.Json.PropertyNamingPolicy!.ConvertName(nameof(Settlement)));
    private static readonly string AtomicValue = JsonSerializer.Serialize(Settlement.Atomic, EventCodec<PaymentEvent>.Json);
}
