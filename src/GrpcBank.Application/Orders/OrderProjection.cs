using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Orders;

namespace GrpcBank.Application.Orders;

/// <summary>Pure: an order event and the current view give the next view.</summary>
public static class OrderProjection
{
    public static bool Handles(RecordedEvent e) => EventCodecs.Orders.Knows(e.EventType);

    /// <summary>Null when the view already reflects this event (a redelivery).</summary>
    public static OrderView? Apply(OrderView? view, RecordedEvent e)
    {
        if (view is not null && view.Version >= e.StreamVersion) return null;
        var decoded = EventCodecs.Orders.Decode(e);
        if (decoded is OrderEvent.OrderPlaced p)
            return new OrderView(p.OrderId, p.CustomerAccountId, p.MerchantAccountId, p.AmountMinor,
                p.CurrencyCode, p.Description, OrderViewStatus.Placed, p.PaymentId, "", e.RecordedAt, e.RecordedAt, e.StreamVersion);
        if (decoded is OrderEvent.OrderAuthorized a)
            return new OrderView(a.OrderId, a.CustomerAccountId, a.MerchantAccountId, a.AmountMinor,
                a.CurrencyCode, a.Description, OrderViewStatus.Authorized, a.PaymentId, "", e.RecordedAt, e.RecordedAt, e.StreamVersion);
        if (decoded is OrderEvent.OrderDeclined d)
            return new OrderView(d.OrderId, d.CustomerAccountId, d.MerchantAccountId, d.AmountMinor,
                d.CurrencyCode, d.Description, OrderViewStatus.Cancelled, d.PaymentId, d.Reason, e.RecordedAt, e.RecordedAt, e.StreamVersion);
        if (view is null) throw new InvalidDataException($"{e.EventType} at {e.StreamId}@{e.StreamVersion} has no order to apply to");
        var next = view with { UpdatedAt = e.RecordedAt, Version = e.StreamVersion };
        return decoded switch
        {
            OrderEvent.OrderPaid => next with { Status = OrderViewStatus.Paid },
            OrderEvent.OrderCancelled c => next with { Status = OrderViewStatus.Cancelled, CancellationReason = c.Reason },
            // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessSpecs prove no event gets here.
            _ => throw new UnreachableException($"{e.EventType} has no order projection"),
        };
    }
}
