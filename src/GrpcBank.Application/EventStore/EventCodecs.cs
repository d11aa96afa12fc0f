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
}
