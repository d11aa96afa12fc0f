using System.Diagnostics;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Payments;

public enum PaymentStatus { Uninitiated, Initiated, PayerDebited, Compensating, Completed, Failed, Refunding, RefundPayeeDebited, Refunded }

/// <summary>What a payment must remember to drive and to undo its money movements.</summary>
public sealed record PaymentState(
    PaymentStatus Status, string PaymentId, string OrderId, string FromAccountId, string ToAccountId,
    long AmountMinor, string CurrencyCode, string FailureReason, int RefundAttempts)
{
    public static readonly PaymentState Initial = new(PaymentStatus.Uninitiated, "", "", "", "", 0, "", "", 0);

    public Movement Movement => new(PaymentId, OrderId, AmountMinor, CurrencyCode);
}

public abstract record PaymentCommand
{
    private PaymentCommand() { }

    /// <summary>OrderId is None for a plain transfer.</summary>
    public sealed record InitiatePayment(
        string PaymentId, Option<string> OrderId, string FromAccountId, string ToAccountId, long AmountMinor, string CurrencyCode,
        string Reference) : PaymentCommand;
    public sealed record RequestRefund(string PaymentId, string Reason) : PaymentCommand;

    // Outcomes of account commands, reported by the payment process.
    public sealed record RecordPayerDebited(string PaymentId) : PaymentCommand;
    public sealed record RecordPayerDebitFailed(string PaymentId, string Reason) : PaymentCommand;
    public sealed record RecordPayeeCredited(string PaymentId) : PaymentCommand;
    public sealed record RecordPayeeCreditFailed(string PaymentId, string Reason) : PaymentCommand;
    public sealed record RecordRefundDebited(string PaymentId) : PaymentCommand;
    public sealed record RecordRefundDebitFailed(string PaymentId, string Reason) : PaymentCommand;
    public sealed record RecordPayerRefunded(string PaymentId) : PaymentCommand;
}

// WARNING: these records are the storage format (names in PaymentEventTypes). Never rename or repurpose a field.
// Events that start a step carry what that step needs, so the payment process reacts to one event alone; those it
// reacts to say how the payment is settled, so it reacts to saga-settled ones only (older shapes: see Upcasters).
public abstract record PaymentEvent
{
    private PaymentEvent() { }

    public sealed record PaymentInitiated(
        string PaymentId, string OrderId, string FromAccountId, string ToAccountId, long AmountMinor, string CurrencyCode,
        string Reference, Settlement Settlement) : PaymentEvent;
    public sealed record PayerDebited(string PaymentId, string ToAccountId, Movement Movement) : PaymentEvent;
    public sealed record PaymentCompleted(string PaymentId, string OrderId, Settlement Settlement) : PaymentEvent;
    public sealed record PayeeCreditFailed(string PaymentId, string FromAccountId, Movement Movement, string Reason) : PaymentEvent;
    public sealed record PaymentFailed(string PaymentId, string OrderId, string Reason, Settlement Settlement) : PaymentEvent;
    /// <summary>Attempt counts refund requests (a refund the payee could not fund may be asked for again).</summary>
    public sealed record RefundRequested(string PaymentId, string ToAccountId, Movement Movement, string Reason, int Attempt, Settlement Settlement) : PaymentEvent;
    public sealed record RefundPayeeDebited(string PaymentId, string FromAccountId, Movement Movement) : PaymentEvent;
    public sealed record RefundFailed(string PaymentId, string Reason) : PaymentEvent;
    public sealed record PaymentRefunded(string PaymentId, string OrderId) : PaymentEvent;
}

/// <summary>
/// A payment moves money from payer to payee in steps: debit the payer, credit the payee. If the payee
/// cannot receive, the payer is refunded (compensation) and the payment fails. A completed payment can be
/// refunded once: debit the payee, credit the payer. Reported outcomes that do not fit the state are no-ops,
/// so redelivered reports change nothing.
/// </summary>
public static class Payment
{
    public static readonly Decider<PaymentCommand, PaymentEvent, PaymentState> Decider = new(PaymentState.Initial, Decide, Evolve);

    public static string StreamId(string paymentId) => StreamIds.Of(StreamKind.Payment, paymentId);

    // ---- Decisions ----

    public static Either<Rejection, Seq<PaymentEvent>> Decide(PaymentCommand command, PaymentState s) => command switch
    {
        PaymentCommand.InitiatePayment c => Initiate(c, s),
        PaymentCommand.RequestRefund c => MustBeRefundable(s, c.PaymentId)
            ?? Events(new PaymentEvent.RefundRequested(s.PaymentId, s.ToAccountId, s.Movement, c.Reason, s.RefundAttempts + 1, Settlement.Saga)),
        PaymentCommand.RecordPayerDebited c => When(s, c.PaymentId, PaymentStatus.Initiated,
            () => new PaymentEvent.PayerDebited(s.PaymentId, s.ToAccountId, s.Movement)),
        PaymentCommand.RecordPayerDebitFailed c => When(s, c.PaymentId, PaymentStatus.Initiated,
            () => new PaymentEvent.PaymentFailed(s.PaymentId, s.OrderId, c.Reason, Settlement.Saga)),
        PaymentCommand.RecordPayeeCredited c => When(s, c.PaymentId, PaymentStatus.PayerDebited,
            () => new PaymentEvent.PaymentCompleted(s.PaymentId, s.OrderId, Settlement.Saga)),
        PaymentCommand.RecordPayeeCreditFailed c => When(s, c.PaymentId, PaymentStatus.PayerDebited,
            () => new PaymentEvent.PayeeCreditFailed(s.PaymentId, s.FromAccountId, s.Movement, c.Reason)),
        PaymentCommand.RecordRefundDebited c => When(s, c.PaymentId, PaymentStatus.Refunding,
            () => new PaymentEvent.RefundPayeeDebited(s.PaymentId, s.FromAccountId, s.Movement)),
        PaymentCommand.RecordRefundDebitFailed c => When(s, c.PaymentId, PaymentStatus.Refunding,
            () => new PaymentEvent.RefundFailed(s.PaymentId, c.Reason)),
        PaymentCommand.RecordPayerRefunded c => MustExist(s, c.PaymentId) ?? s.Status switch
        {
            PaymentStatus.Compensating => Events(new PaymentEvent.PaymentFailed(s.PaymentId, s.OrderId, s.FailureReason, Settlement.Saga)),
            PaymentStatus.RefundPayeeDebited => Events(new PaymentEvent.PaymentRefunded(s.PaymentId, s.OrderId)),
            _ => Events(),
        },
        // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessTests prove no command gets here.
        _ => throw new UnreachableException($"unknown payment command {command.GetType().Name}"),
    };

    private static Either<Rejection, Seq<PaymentEvent>> Initiate(PaymentCommand.InitiatePayment c, PaymentState s) =>
        s.Status != PaymentStatus.Uninitiated ? new PaymentRejection.PaymentAlreadyExists(c.PaymentId)
        : c.OrderId.IsNone && Order.IsOrderPaymentId(c.PaymentId) ? new PaymentRejection.PaymentIdReserved(c.PaymentId)
        : !Money.IsValidAmount(c.AmountMinor) ? new MoneyRejection.InvalidAmount(c.AmountMinor)
        : !Currency.IsKnown(c.CurrencyCode) ? new MoneyRejection.UnknownCurrency(c.CurrencyCode)
        : c.FromAccountId == c.ToAccountId ? new MoneyRejection.SameAccount(c.FromAccountId)
        : Events(new PaymentEvent.PaymentInitiated(
            c.PaymentId, c.OrderId.IfNone(""), c.FromAccountId, c.ToAccountId, c.AmountMinor, c.CurrencyCode, c.Reference, Settlement.Saga));

    /// <summary>A reported outcome: recorded in the one state it belongs to, ignored (a redelivery) otherwise.</summary>
    private static Either<Rejection, Seq<PaymentEvent>> When(PaymentState s, string paymentId, PaymentStatus expected, Func<PaymentEvent> then) =>
        MustExist(s, paymentId) ?? (s.Status == expected ? Events(then()) : Events());

    /// <summary>Only a completed payment can be refunded (once it is refunded, or a refund is under way, it is not).</summary>
    public static Rejection? MustBeRefundable(PaymentState s, string paymentId) =>
        MustExist(s, paymentId) ?? (s.Status == PaymentStatus.Completed ? null : new PaymentRejection.PaymentNotRefundable(s.PaymentId, s.Status));

    private static Rejection? MustExist(PaymentState s, string paymentId) =>
        s.Status == PaymentStatus.Uninitiated ? new PaymentRejection.PaymentNotFound(paymentId) : null;

    private static Either<Rejection, Seq<PaymentEvent>> Events(params PaymentEvent[] events) => toSeq(events);

    // ---- Fold ----

    public static PaymentState Evolve(PaymentState s, PaymentEvent e) => e switch
    {
        PaymentEvent.PaymentInitiated i => new PaymentState(
            PaymentStatus.Initiated, i.PaymentId, i.OrderId, i.FromAccountId, i.ToAccountId, i.AmountMinor, i.CurrencyCode, "", 0),
        PaymentEvent.PayerDebited => s with { Status = PaymentStatus.PayerDebited },
        PaymentEvent.PaymentCompleted => s with { Status = PaymentStatus.Completed },
        PaymentEvent.PayeeCreditFailed f => s with { Status = PaymentStatus.Compensating, FailureReason = f.Reason },
        PaymentEvent.PaymentFailed f => s with { Status = PaymentStatus.Failed, FailureReason = f.Reason },
        PaymentEvent.RefundRequested r => s with { Status = PaymentStatus.Refunding, RefundAttempts = r.Attempt },
        PaymentEvent.RefundPayeeDebited => s with { Status = PaymentStatus.RefundPayeeDebited },
        PaymentEvent.RefundFailed => s with { Status = PaymentStatus.Completed },
        PaymentEvent.PaymentRefunded => s with { Status = PaymentStatus.Refunded },
        _ => throw new UnreachableException($"unknown payment event {e.GetType().Name}"),
    };
}

/// <summary>The stable storage names of payment events, in their current shapes (older ones are read through the upcasters).</summary>
public static class PaymentEventTypes
{
    public static readonly IReadOnlyDictionary<string, Type> ByName = new Dictionary<string, Type>
    {
        ["payments.PaymentInitiated.v2"] = typeof(PaymentEvent.PaymentInitiated),
        ["payments.PayerDebited.v1"] = typeof(PaymentEvent.PayerDebited),
        ["payments.PaymentCompleted.v2"] = typeof(PaymentEvent.PaymentCompleted),
        ["payments.PayeeCreditFailed.v1"] = typeof(PaymentEvent.PayeeCreditFailed),
        ["payments.PaymentFailed.v2"] = typeof(PaymentEvent.PaymentFailed),
        ["payments.RefundRequested.v2"] = typeof(PaymentEvent.RefundRequested),
        ["payments.RefundPayeeDebited.v1"] = typeof(PaymentEvent.RefundPayeeDebited),
        ["payments.RefundFailed.v1"] = typeof(PaymentEvent.RefundFailed),
        ["payments.PaymentRefunded.v1"] = typeof(PaymentEvent.PaymentRefunded),
    };
}
