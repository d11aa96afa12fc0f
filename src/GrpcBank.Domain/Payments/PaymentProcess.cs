using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Payments;

/// <summary>A command for some aggregate, as the payment process issues it.</summary>
public abstract record ProcessCommand
{
    private ProcessCommand() { }

    public sealed record ToAccount(string AccountId, AccountCommand Command) : ProcessCommand;
    public sealed record ToOrder(string OrderId, OrderCommand Command) : ProcessCommand;
    public sealed record ToPayment(string PaymentId, PaymentCommand Command) : ProcessCommand;
    /// <summary>An atomic decision over several streams; AggregateId names it (the order's id for PayOrder).</summary>
    public sealed record ToTransfer(string AggregateId, TransferCommand Command) : ProcessCommand;
}

/// <summary>
/// One step of the process. <see cref="RequestId"/> is derived from (payment id, step), so a redelivered
/// event issues the same, deduplicated command. <see cref="IfRejected"/> reports a business rejection back
/// (given the rejection's public reason, named at the edge) under <see cref="RejectedRequestId"/>; null when a rejection needs no reaction.
/// Once that report is recorded the step is settled and must never be tried again: a payer who has since
/// been funded must not be debited for a payment that already failed.
/// </summary>
/// <param name="PaymentId">The process instance: steps of one payment run in order, different payments independently.</param>
/// <param name="ReturnsMoney">
/// The step gives back money the payment already took (a compensation, a refund's credit to the payer). It has no
/// rejection to report: refused (the payer closed meanwhile, or at the balance limit), it must not be passed over, or the
/// money would stay in flight with nothing left to move it.
/// </param>
public sealed record ProcessStep(
    string PaymentId, ProcessCommand Command, string RequestId, Func<string, ProcessCommand>? IfRejected = null, bool ReturnsMoney = false)
{
    public string RejectedRequestId => RequestId + ":rejected";
}

/// <summary>
/// The payment process as a pure function from one event to the steps it calls for. An order placed before holds is
/// paid by one atomic step (OrderPlaced → PayOrder: paid, or payment failed and order cancelled, in one commit); an
/// order authorised by a hold is paid when it is fulfilled (OrderFunds), and cancelled here when its hold expires
/// (HoldExpired → CancelExpiredOrder).
/// Payments the saga settles (<see cref="Settlement.Saga"/>: written before atomic transfers, some still in flight)
/// are carried on step by step: PaymentInitiated → debit payer → PaymentDebited → RecordPayerDebited → PayerDebited →
/// credit payee → PaymentCredited → RecordPayeeCredited → PaymentCompleted → MarkOrderPaid; failures report back and end
/// in PaymentFailed → order cancelled. Atomically settled events call for nothing.
/// </summary>
public static class PaymentProcess
{
    /// <summary>Request ids of process steps start with this; clients may not use it.</summary>
    public const string RequestIdPrefix = "process:";

    /// <summary>
    /// The event types <see cref="React"/> may answer with steps. Every other type it answers with none, so the process
    /// need not even decode those events (most of them: deposits, withdrawals); nor events of these types settled
    /// atomically (<see cref="Settlement.Atomic"/>: every event of an atomic transfer), which it answers with none either.
    /// Kept in step with React by <c>ExhaustivenessSpecs</c>.
    /// </summary>
    public static readonly IReadOnlySet<Type> ReactsTo = new System.Collections.Generic.HashSet<Type>
    {
        typeof(OrderEvent.OrderPlaced), typeof(AccountEvent.HoldExpired),
        typeof(PaymentEvent.PaymentInitiated), typeof(AccountEvent.PaymentDebited), typeof(PaymentEvent.PayerDebited),
        typeof(AccountEvent.PaymentCredited), typeof(PaymentEvent.PayeeCreditFailed), typeof(PaymentEvent.PaymentCompleted),
        typeof(PaymentEvent.PaymentFailed), typeof(PaymentEvent.RefundRequested), typeof(AccountEvent.RefundDebited),
        typeof(PaymentEvent.RefundPayeeDebited), typeof(AccountEvent.RefundCredited),
    };

    public static Seq<ProcessStep> React(object @event) => @event switch
    {
        // The order's money step: one atomic decision that pays the order, or records why not (Transfer.PayOrder).
        OrderEvent.OrderPlaced o => Steps(Step(o.PaymentId, "pay",
            new ProcessCommand.ToTransfer(o.OrderId, new TransferCommand.PayOrder(o.OrderId)))),

        // An order's authorisation lapsed: the bank expired its hold, so the order is cancelled (OrderFunds placed it). The
        // step is keyed by the order's payment id, like every other step of that order.
        AccountEvent.HoldExpired h when OrderHoldIds.OrderOf(h.HoldId) is { } orderId => Steps(Step(Order.PaymentIdOf(orderId), "authorization-expired",
            new ProcessCommand.ToOrder(orderId, new OrderCommand.CancelExpiredOrder(orderId, h.HoldId)))),

        // Below: payments settled by the saga (written before atomic transfers), carried to their end step by step.

        PaymentEvent.PaymentInitiated { Settlement: Settlement.Saga } p => Steps(Step(p.PaymentId, "debit-payer", new ProcessCommand.ToAccount(p.FromAccountId,
            new AccountCommand.DebitForPayment(p.FromAccountId, new Movement(p.PaymentId, p.OrderId, p.AmountMinor, p.CurrencyCode))),
            reason => ToPayment(p.PaymentId, new PaymentCommand.RecordPayerDebitFailed(p.PaymentId, reason)))),
        AccountEvent.PaymentDebited { Settlement: Settlement.Saga } d =>
            Steps(Report(d.Movement.PaymentId, "payer-debited", new PaymentCommand.RecordPayerDebited(d.Movement.PaymentId))),

        PaymentEvent.PayerDebited p => Steps(Step(p.PaymentId, "credit-payee", new ProcessCommand.ToAccount(p.ToAccountId,
            new AccountCommand.CreditForPayment(p.ToAccountId, p.Movement)),
            reason => ToPayment(p.PaymentId, new PaymentCommand.RecordPayeeCreditFailed(p.PaymentId, reason)))),
        AccountEvent.PaymentCredited { Settlement: Settlement.Saga } c =>
            Steps(Report(c.Movement.PaymentId, "payee-credited", new PaymentCommand.RecordPayeeCredited(c.Movement.PaymentId))),

        // Compensation: the payee could not receive, so the payer gets the money back before the payment fails.
        PaymentEvent.PayeeCreditFailed f => Steps(Return(f.PaymentId, "compensate-payer", f.FromAccountId, f.Movement)),

        PaymentEvent.PaymentCompleted { Settlement: Settlement.Saga } c when c.OrderId != "" => Steps(Step(c.PaymentId, "mark-order-paid",
            new ProcessCommand.ToOrder(c.OrderId, new OrderCommand.MarkOrderPaid(c.OrderId, c.PaymentId)),
            // The customer cancelled the order while it was being paid: give the money back.
            _ => ToPayment(c.PaymentId, new PaymentCommand.RequestRefund(c.PaymentId, "ORDER_CANCELLED")))),
        PaymentEvent.PaymentFailed { Settlement: Settlement.Saga } f when f.OrderId != "" => Steps(Step(f.PaymentId, "cancel-order",
            new ProcessCommand.ToOrder(f.OrderId, new OrderCommand.CancelOrderForFailedPayment(f.OrderId, f.PaymentId, f.Reason)))),

        PaymentEvent.RefundRequested { Settlement: Settlement.Saga } r => Steps(Step(r.PaymentId, $"refund-{r.Attempt}-debit-payee", new ProcessCommand.ToAccount(r.ToAccountId,
            new AccountCommand.DebitForRefund(r.ToAccountId, r.Movement)),
            reason => ToPayment(r.PaymentId, new PaymentCommand.RecordRefundDebitFailed(r.PaymentId, reason)))),
        AccountEvent.RefundDebited { Settlement: Settlement.Saga } d =>
            Steps(Report(d.Movement.PaymentId, "refund-payee-debited", new PaymentCommand.RecordRefundDebited(d.Movement.PaymentId))),
        PaymentEvent.RefundPayeeDebited r => Steps(Return(r.PaymentId, "refund-credit-payer", r.FromAccountId, r.Movement)),
        AccountEvent.RefundCredited { Settlement: Settlement.Saga } c =>
            Steps(Report(c.Movement.PaymentId, "payer-refunded", new PaymentCommand.RecordPayerRefunded(c.Movement.PaymentId))),

        _ => Seq<ProcessStep>(),
    };

    /// <summary>The request id of a step: stable for (payment, step), so a repeat is deduplicated by the request log.</summary>
    public static string RequestId(string paymentId, string step) => $"{RequestIdPrefix}{paymentId}:{step}";

    private static ProcessStep Step(string paymentId, string step, ProcessCommand command, Func<string, ProcessCommand>? ifRejected = null) =>
        new(paymentId, command, RequestId(paymentId, step), ifRejected);

    private static ProcessStep Return(string paymentId, string step, string payerAccountId, Movement movement) =>
        new(paymentId, new ProcessCommand.ToAccount(payerAccountId, new AccountCommand.CreditForRefund(payerAccountId, movement)),
            RequestId(paymentId, step), ReturnsMoney: true);

    private static ProcessStep Report(string paymentId, string step, PaymentCommand command) =>
        Step(paymentId, step, ToPayment(paymentId, command));

    private static ProcessCommand ToPayment(string paymentId, PaymentCommand command) => new ProcessCommand.ToPayment(paymentId, command);

    private static Seq<ProcessStep> Steps(params ProcessStep[] steps) => toSeq(steps);
}
