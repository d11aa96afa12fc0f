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
        return (EventCodecs.Orders.Decode(e), view) switch
        {
            (OrderEvent.OrderPlaced p, _) => new OrderView(p.OrderId, p.CustomerAccountId, p.MerchantAccountId, p.AmountMinor,
                p.CurrencyCode, p.Description, OrderViewStatus.Placed, p.PaymentId, "", e.RecordedAt, e.RecordedAt, e.StreamVersion),
            (OrderEvent.OrderPaid, { } v) => v with { Status = OrderViewStatus.Paid, UpdatedAt = e.RecordedAt, Version = e.StreamVersion },
            (OrderEvent.OrderCancelled c, { } v) => v with
            {
                Status = OrderViewStatus.Cancelled, CancellationReason = c.Reason, UpdatedAt = e.RecordedAt, Version = e.StreamVersion,
            },
            _ => throw new InvalidDataException($"{e.EventType} at {e.StreamId}@{e.StreamVersion} has no order to apply to"),
        };
    }
}
