using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Payments;

/// <summary>Pure: a payment event and the current view give the next view.</summary>
public static class PaymentProjection
{
    public static bool Handles(RecordedEvent e) => EventCodecs.Payments.Knows(e.EventType);

    /// <summary>Null when the view already reflects this event (a redelivery).</summary>
    public static PaymentView? Apply(PaymentView? view, RecordedEvent e)
    {
        if (view is not null && view.Version >= e.StreamVersion) return null;
        var decoded = EventCodecs.Payments.Decode(e);
        if (decoded is PaymentEvent.PaymentInitiated i)
            return new PaymentView(i.PaymentId, i.OrderId, i.FromAccountId, i.ToAccountId, i.AmountMinor, i.CurrencyCode,
                PaymentViewStatus.Initiated, "", e.RecordedAt, e.RecordedAt, e.StreamVersion);
        if (view is null) throw new InvalidDataException($"{e.EventType} at {e.StreamId}@{e.StreamVersion} has no payment to apply to");
        var next = view with { UpdatedAt = e.RecordedAt, Version = e.StreamVersion };
        return decoded switch
        {
            PaymentEvent.PaymentCompleted => next with { Status = PaymentViewStatus.Completed },
            PaymentEvent.PaymentFailed f => next with { Status = PaymentViewStatus.Failed, FailureReason = f.Reason },
            PaymentEvent.PaymentRefunded => next with { Status = PaymentViewStatus.Refunded },
            // The view shows where a payment ended, not each step on the way: the steps only move its version.
            PaymentEvent.PayerDebited or PaymentEvent.PayeeCreditFailed or PaymentEvent.RefundRequested
                or PaymentEvent.RefundPayeeDebited or PaymentEvent.RefundFailed => next,
            // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessSpecs prove no event gets here.
            _ => throw new UnreachableException($"{e.EventType} has no payment projection"),
        };
    }
}
