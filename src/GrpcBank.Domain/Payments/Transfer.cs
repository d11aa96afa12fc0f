using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Payments;

/// <summary>The decisions that move money atomically (<see cref="Transfer"/>).</summary>
public abstract record TransferCommand
{
    private TransferCommand() { }

    /// <summary>Move money between two accounts now, or not at all. PaymentId is chosen by the caller (or the server).</summary>
    public sealed record TransferMoney(
        string PaymentId, string FromAccountId, string ToAccountId, long AmountMinor, string CurrencyCode, string Reference) : TransferCommand;

    /// <summary>Give a completed payment's money back to its payer now, or not at all.</summary>
    public sealed record RefundPayment(string PaymentId, string Reason) : TransferCommand;

    /// <summary>Pay a placed order (the payment process asks, once the order is placed).</summary>
    public sealed record PayOrder(string OrderId) : TransferCommand;
}

/// <summary>
/// What one atomic decision writes, stream by stream: the payment, its payer's and payee's accounts, and (for an
/// order's payment) the order. All of it is appended at once or none of it; a stream with no events is not written.
/// </summary>
public sealed record TransferEvents(Seq<PaymentEvent> Payment, Seq<AccountEvent> Payer, Seq<AccountEvent> Payee, Seq<OrderEvent> Order)
{
    public static readonly TransferEvents None = new(Seq<PaymentEvent>(), Seq<AccountEvent>(), Seq<AccountEvent>(), Seq<OrderEvent>());

    public bool IsEmpty => Payment.IsEmpty && Payer.IsEmpty && Payee.IsEmpty && Order.IsEmpty;
}

/// <summary>
/// Money moving between accounts as single decisions over one consistency boundary: the two accounts and the payment
/// (and the order it pays). Each decision sees every state it needs and yields the events of every stream, appended
/// together, so no committed state ever holds money that left one account and has not reached the other. The
/// accounts' own rules decide each side (<see cref="Account.Debit"/>, <see cref="Account.Credit"/>); the events are
/// marked <see cref="Settlement.Atomic"/>, so the payment process, which drives saga-settled payments step by step,
/// leaves them alone.
/// </summary>
public static class Transfer
{
    /// <summary>A transfer: the payment is recorded completed, the payer debited and the payee credited — or the rejection.</summary>
    public static Either<Rejection, TransferEvents> Decide(TransferCommand.TransferMoney c, PaymentState payment, AccountState payer, AccountState payee) =>
        Order.IsOrderPaymentId(c.PaymentId) && payment.Status == PaymentStatus.Uninitiated
            ? new PaymentRejection.PaymentIdReserved(c.PaymentId)
            : Pay(c.PaymentId, "", c.FromAccountId, c.ToAccountId, c.AmountMinor, c.CurrencyCode, c.Reference, payment, payer, payee);

    /// <summary>
    /// An order's money step, taken once the order is placed: paid (payment completed, money moved, order paid) or,
    /// when the accounts refuse, the refusal recorded (payment failed, order cancelled, both with the reason). Never a
    /// rejection, so the process always has an outcome to settle on. Nothing to do for an order that is no longer
    /// placed, or whose payment exists already (paid by this decision before, or still carried by the saga).
    /// </summary>
    /// <param name="reasonOf">The public reason of a refusal, as clients see it (the edge names rejections), stored with it.</param>
    public static TransferEvents PayOrder(
        OrderState order, PaymentState payment, AccountState customer, AccountState merchant, Func<Rejection, string> reasonOf)
    {
        if (order.Status != OrderStatus.Placed || payment.Status != PaymentStatus.Uninitiated) return TransferEvents.None;
        return Pay(order.PaymentId, order.OrderId, order.CustomerAccountId, order.MerchantAccountId, order.AmountMinor, order.CurrencyCode,
                $"order {order.OrderId}", payment, customer, merchant)
            .Match(
                Right: paid => paid with { Order = Seq1<OrderEvent>(new OrderEvent.OrderPaid(order.OrderId, order.PaymentId)) },
                Left: refused => Refused(order, reasonOf(refused)));
    }

    /// <summary>An order's payment refused: recorded as failed, and the order cancelled, with the reason; no money moves.</summary>
    private static TransferEvents Refused(OrderState order, string reason) => TransferEvents.None with
    {
        Payment = Seq(
            Initiated(order.PaymentId, order.OrderId, order.CustomerAccountId, order.MerchantAccountId, order.AmountMinor,
                order.CurrencyCode, $"order {order.OrderId}"),
            new PaymentEvent.PaymentFailed(order.PaymentId, order.OrderId, reason, Settlement.Atomic)),
        Order = Seq1<OrderEvent>(new OrderEvent.OrderCancelled(order.OrderId, reason)),
    };

    /// <summary>A refund of a completed payment: the payee debited, the payer credited, the payment refunded — or the rejection.</summary>
    public static Either<Rejection, TransferEvents> Refund(TransferCommand.RefundPayment c, PaymentState payment, AccountState payer, AccountState payee)
    {
        if (Payment.MustBeRefundable(payment, c.PaymentId) is { } notRefundable) return notRefundable;
        var movement = payment.Movement;
        return
            from debited in Account.Debit(payee, payment.ToAccountId, movement.AmountMinor, movement.CurrencyCode,
                () => new AccountEvent.RefundDebited(payment.ToAccountId, movement, Settlement.Atomic))
            from credited in Account.Credit(payer, payment.FromAccountId, movement.AmountMinor, movement.CurrencyCode,
                () => new AccountEvent.RefundCredited(payment.FromAccountId, movement, Settlement.Atomic))
            select TransferEvents.None with
            {
                Payment = Seq<PaymentEvent>(
                    new PaymentEvent.RefundRequested(payment.PaymentId, payment.ToAccountId, movement, c.Reason, payment.RefundAttempts + 1,
                        Settlement.Atomic),
                    new PaymentEvent.PaymentRefunded(payment.PaymentId, payment.OrderId)),
                Payer = credited,
                Payee = debited,
            };
    }

    private static Either<Rejection, TransferEvents> Pay(
        string paymentId, string orderId, string payerId, string payeeId, long amountMinor, string currencyCode, string reference,
        PaymentState payment, AccountState payer, AccountState payee)
    {
        if (payment.Status != PaymentStatus.Uninitiated) return new PaymentRejection.PaymentAlreadyExists(paymentId);
        if (!Money.IsValidAmount(amountMinor)) return new MoneyRejection.InvalidAmount(amountMinor);
        if (!Currency.IsKnown(currencyCode)) return new MoneyRejection.UnknownCurrency(currencyCode);
        if (payerId == payeeId) return new MoneyRejection.SameAccount(payerId);
        var movement = new Movement(paymentId, orderId, amountMinor, currencyCode);
        return
            from debited in Account.Debit(payer, payerId, amountMinor, currencyCode,
                () => new AccountEvent.PaymentDebited(payerId, movement, Settlement.Atomic))
            from credited in Account.Credit(payee, payeeId, amountMinor, currencyCode,
                () => new AccountEvent.PaymentCredited(payeeId, movement, Settlement.Atomic))
            select TransferEvents.None with
            {
                Payment = Seq(
                    Initiated(paymentId, orderId, payerId, payeeId, amountMinor, currencyCode, reference),
                    new PaymentEvent.PaymentCompleted(paymentId, orderId, Settlement.Atomic)),
                Payer = debited,
                Payee = credited,
            };
    }

    internal static PaymentEvent Initiated(
        string paymentId, string orderId, string payerId, string payeeId, long amountMinor, string currencyCode, string reference) =>
        new PaymentEvent.PaymentInitiated(paymentId, orderId, payerId, payeeId, amountMinor, currencyCode, reference, Settlement.Atomic);
}
