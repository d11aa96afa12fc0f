using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Payments;

/// <summary>The decisions that move an order's money together with the order (<see cref="OrderFunds"/>).</summary>
public abstract record OrderFundsCommand
{
    private OrderFundsCommand() { }

    /// <summary>Place an order and hold its amount on the customer's account until <paramref name="ExpiresAt"/>; PlacedAt is now.</summary>
    public sealed record PlaceOrder(OrderCommand.PlaceOrder Order, DateTimeOffset ExpiresAt, DateTimeOffset PlacedAt) : OrderFundsCommand;

    /// <summary>Capture the order's hold and pay the merchant; Now decides whether the hold is still good.</summary>
    public sealed record FulfillOrder(string OrderId, DateTimeOffset Now) : OrderFundsCommand;

    /// <summary>Cancel the order and free its hold.</summary>
    public sealed record CancelOrder(string OrderId, string Reason) : OrderFundsCommand;
}

/// <summary>
/// An order's money as holds, each step one atomic decision over the order and the accounts it touches (appended in one
/// multi-stream commit, like <see cref="Transfer"/>): placing holds the amount on the customer's account (order
/// AUTHORIZED) or records the refusal (order CANCELLED with the reason); fulfilling captures the hold, credits the
/// merchant and records the payment COMPLETED (order PAID); cancelling releases the hold. The rules stay in their homes:
/// the order's in <see cref="Order"/>, the accounts' in <see cref="Account.Reserve"/>, <see cref="Account.Capture"/>,
/// <see cref="Account.Credit"/> and <see cref="Account.Release"/>. Payer is the customer's account, Payee the merchant's.
/// </summary>
public static class OrderFunds
{
    /// <summary>
    /// Authorised (order and hold together) or declined (the order alone, cancelled with the account's reason: nothing is
    /// held). A refusal of the order itself (a known id, an invalid amount) is a rejection and writes nothing; so is a
    /// merchant no fulfilment could ever pay (<see cref="Account.CanNeverReceive"/>): the customer's money would be held
    /// for nothing. What may still change before fulfilment (the merchant's credits blocked) is judged then.
    /// </summary>
    /// <param name="merchant">Read, not written: only rules that never change back are judged on it.</param>
    /// <param name="reasonOf">The public reason of a refusal, as clients see it (the edge names rejections), stored with it.</param>
    public static Either<Rejection, TransferEvents> Place(
        OrderFundsCommand.PlaceOrder c, OrderState order, AccountState customer, AccountState merchant, Func<Rejection, string> reasonOf)
    {
        var o = c.Order;
        if ((Order.MustBePlaceable(o, order) ?? Account.CanNeverReceive(merchant, o.MerchantAccountId, o.CurrencyCode)) is { } refused) return refused;
        var holdId = OrderHoldIds.Of(o.OrderId);
        var paymentId = Order.PaymentIdOf(o.OrderId);
        return Account.Reserve(customer, o.CustomerAccountId, holdId, o.AmountMinor, o.CurrencyCode, Reference(o.OrderId), c.ExpiresAt, c.PlacedAt)
            .Match(
                Right: held => TransferEvents.None with
                {
                    Payer = held,
                    Order = Seq1<OrderEvent>(new OrderEvent.OrderAuthorized(o.OrderId, o.CustomerAccountId, o.MerchantAccountId, o.AmountMinor,
                        o.CurrencyCode, o.Description, paymentId, holdId, c.ExpiresAt)),
                },
                Left: declined => TransferEvents.None with
                {
                    Order = Seq1<OrderEvent>(new OrderEvent.OrderDeclined(o.OrderId, o.CustomerAccountId, o.MerchantAccountId, o.AmountMinor,
                        o.CurrencyCode, o.Description, paymentId, reasonOf(declined))),
                });
    }

    /// <summary>
    /// Paid in one commit: the hold captured (money out of the customer's account, naming the payment), the merchant
    /// credited, the payment initiated and completed, the order paid — or the rejection, and nothing written. A paid
    /// order is left as it is (a retry).
    /// </summary>
    public static Either<Rejection, TransferEvents> Fulfil(
        OrderFundsCommand.FulfillOrder c, OrderState order, PaymentState payment, AccountState customer, AccountState merchant) =>
        from paid in Order.Fulfil(order, c.OrderId)
        from events in paid.IsEmpty ? Right<Rejection, TransferEvents>(TransferEvents.None) : Capture(c, order, payment, customer, merchant, paid)
        select events;

    private static Either<Rejection, TransferEvents> Capture(
        OrderFundsCommand.FulfillOrder c, OrderState order, PaymentState payment, AccountState customer, AccountState merchant, Seq<OrderEvent> paid)
    {
        if (payment.Status != PaymentStatus.Uninitiated) return new PaymentRejection.PaymentAlreadyExists(order.PaymentId);
        var movement = new Movement(order.PaymentId, order.OrderId, order.AmountMinor, order.CurrencyCode);
        return
            from captured in Account.Capture(customer, order.CustomerAccountId, order.HoldId, order.AmountMinor, Reference(order.OrderId), c.Now,
                order.PaymentId, order.OrderId)
            from credited in Account.Credit(merchant, order.MerchantAccountId, order.AmountMinor, order.CurrencyCode,
                () => new AccountEvent.PaymentCredited(order.MerchantAccountId, movement, Settlement.Atomic))
            select new TransferEvents(
                Seq(
                    Transfer.Initiated(order.PaymentId, order.OrderId, order.CustomerAccountId, order.MerchantAccountId, order.AmountMinor,
                        order.CurrencyCode, Reference(order.OrderId)),
                    new PaymentEvent.PaymentCompleted(order.PaymentId, order.OrderId, Settlement.Atomic)),
                captured, credited, paid);
    }

    /// <summary>
    /// Cancelled, and its hold released in the same commit while it is still active (one that expired is free already).
    /// An order from before holds is cancelled alone, as it always was; a paid order is not cancellable.
    /// </summary>
    public static Either<Rejection, TransferEvents> Cancel(OrderFundsCommand.CancelOrder c, OrderState order, AccountState customer) =>
        from cancelled in Order.Decide(new OrderCommand.CancelOrder(c.OrderId, c.Reason), order)
        from released in cancelled.IsEmpty || order.HoldId == "" ? Right<Rejection, Seq<AccountEvent>>(Seq<AccountEvent>()) : Release(order, customer)
        select TransferEvents.None with { Payer = released, Order = cancelled };

    private static Either<Rejection, Seq<AccountEvent>> Release(OrderState order, AccountState customer) =>
        Account.Release(customer, order.CustomerAccountId, order.HoldId)
            .BindLeft(refused => refused is AccountRejection.HoldNotActive
                ? Right<Rejection, Seq<AccountEvent>>(Seq<AccountEvent>())
                : Left<Rejection, Seq<AccountEvent>>(refused));

    private static string Reference(string orderId) => $"order {orderId}";
}
