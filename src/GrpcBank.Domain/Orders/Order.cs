using System.Diagnostics;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Orders;

/// <summary>
/// Placed: an order from before holds, paid by the payment process. Authorized: its amount is held on the customer's
/// account until it is fulfilled (Paid), cancelled, or the authorisation expires (Cancelled).
/// </summary>
public enum OrderStatus { Unplaced, Placed, Paid, Cancelled, Authorized }

public sealed record OrderState(
    OrderStatus Status, string OrderId, string CustomerAccountId, string MerchantAccountId,
    long AmountMinor, string CurrencyCode, string PaymentId)
{
    public static readonly OrderState Initial = new(OrderStatus.Unplaced, "", "", "", 0, "", "");

    /// <summary>The hold that authorises the order on the customer's account; empty for an order placed before holds.</summary>
    public string HoldId { get; init; } = "";

    /// <summary>Why the order was cancelled (or declined); empty while it is not.</summary>
    public string CancellationReason { get; init; } = "";
}

public abstract record OrderCommand
{
    private OrderCommand() { }

    /// <summary>The order's payment is named after it (<see cref="Order.PaymentIdOf"/>), so it is traceable from the start.</summary>
    public sealed record PlaceOrder(
        string OrderId, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode,
        string Description) : OrderCommand;
    public sealed record CancelOrder(string OrderId, string Reason) : OrderCommand;

    // Outcomes of the payment, issued by the payment process.
    public sealed record MarkOrderPaid(string OrderId, string PaymentId) : OrderCommand;
    public sealed record CancelOrderForFailedPayment(string OrderId, string PaymentId, string Reason) : OrderCommand;

    /// <summary>The order's hold expired (the bank released it): the authorisation lapsed. Issued by the order process.</summary>
    public sealed record CancelExpiredOrder(string OrderId, string HoldId) : OrderCommand;
}

// WARNING: these records are the storage format (names in OrderEventTypes). Never rename or repurpose a field.
public abstract record OrderEvent
{
    private OrderEvent() { }

    public sealed record OrderPlaced(
        string OrderId, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode,
        string Description, string PaymentId) : OrderEvent;
    public sealed record OrderPaid(string OrderId, string PaymentId) : OrderEvent;
    public sealed record OrderCancelled(string OrderId, string Reason) : OrderEvent;

    /// <summary>
    /// Placed with its amount held on the customer's account (<paramref name="HoldId"/>, until <paramref name="ExpiresAt"/>),
    /// in the same commit as the hold. Unlike <see cref="OrderPlaced"/> (the orders the payment process pays), nothing
    /// reacts to it: the order is paid when it is fulfilled.
    /// </summary>
    public sealed record OrderAuthorized(
        string OrderId, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode,
        string Description, string PaymentId, string HoldId, DateTimeOffset ExpiresAt) : OrderEvent;

    /// <summary>Placed, but the customer's account refused the hold: the order is cancelled from the start, with the reason.</summary>
    public sealed record OrderDeclined(
        string OrderId, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode,
        string Description, string PaymentId, string Reason) : OrderEvent;
}

/// <summary>
/// An order is paid by exactly one payment, or cancelled (by the customer, because its payment failed, because the
/// customer's account refused its hold, or because the hold expired). The decisions that move an order's money with it
/// (authorise, fulfil, cancel with the hold) are in <see cref="Payments.OrderFunds"/>; the order's own rules are here.
/// </summary>
public static class Order
{
    public static readonly Decider<OrderCommand, OrderEvent, OrderState> Decider = new(OrderState.Initial, Decide, Evolve);

    public static string StreamId(string orderId) => StreamIds.Of(StreamKind.Order, orderId);

    /// <summary>
    /// The id of an order's payment: derived, not random, so the payment is found from the order id alone.
    /// It is longer than the order id by <see cref="PaymentIdPrefix"/>; no plain transfer may take such an id.
    /// </summary>
    public static string PaymentIdOf(string orderId) => PaymentIdPrefix + orderId;

    public const string PaymentIdPrefix = "order-";

    public static bool IsOrderPaymentId(string paymentId) => paymentId.StartsWith(PaymentIdPrefix, StringComparison.Ordinal);

    // ---- Decisions ----

    public static Either<Rejection, Seq<OrderEvent>> Decide(OrderCommand command, OrderState s) => command switch
    {
        OrderCommand.PlaceOrder c => Place(c, s),
        OrderCommand.CancelOrder c => MustExist(s, c.OrderId) ?? s.Status switch
        {
            // An authorised order's hold is released in the same commit (OrderFunds.Cancel).
            OrderStatus.Placed or OrderStatus.Authorized => Events(new OrderEvent.OrderCancelled(s.OrderId, c.Reason)),
            OrderStatus.Cancelled => Events(),
            _ => new OrderRejection.OrderNotCancellable(s.OrderId, s.Status),
        },
        OrderCommand.MarkOrderPaid c => MustExist(s, c.OrderId) ?? MustBeItsPayment(s, c.PaymentId) ?? s.Status switch
        {
            OrderStatus.Placed => Events(new OrderEvent.OrderPaid(s.OrderId, c.PaymentId)),
            OrderStatus.Paid => Events(),
            _ => new OrderRejection.OrderNotPayable(s.OrderId, s.Status),
        },
        OrderCommand.CancelOrderForFailedPayment c => MustExist(s, c.OrderId) ?? MustBeItsPayment(s, c.PaymentId) ?? s.Status switch
        {
            OrderStatus.Placed => Events(new OrderEvent.OrderCancelled(s.OrderId, c.Reason)),
            OrderStatus.Cancelled => Events(),
            _ => new OrderRejection.OrderNotCancellable(s.OrderId, s.Status),
        },
        // The hold is gone already (the bank expired it); only an order still waiting on it lapses. A hold that expired
        // after the order was cancelled or paid is none of its business.
        OrderCommand.CancelExpiredOrder c => MustExist(s, c.OrderId) ?? (s.Status == OrderStatus.Authorized && s.HoldId == c.HoldId
            ? Events(new OrderEvent.OrderCancelled(s.OrderId, AuthorizationExpired))
            : Events()),
        // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessTests prove no command gets here.
        _ => throw new UnreachableException($"unknown order command {command.GetType().Name}"),
    };

    /// <summary>The reason an order is cancelled with when its authorisation (its hold) expired.</summary>
    public const string AuthorizationExpired = "AUTHORIZATION_EXPIRED";

    private static Either<Rejection, Seq<OrderEvent>> Place(OrderCommand.PlaceOrder c, OrderState s) =>
        MustBePlaceable(c, s)
        ?? Events(new OrderEvent.OrderPlaced(
            c.OrderId, c.CustomerAccountId, c.MerchantAccountId, c.AmountMinor, c.CurrencyCode, c.Description, PaymentIdOf(c.OrderId)));

    /// <summary>Every placement's rule: a new order id, a valid amount in a known currency, two different accounts.</summary>
    public static Rejection? MustBePlaceable(OrderCommand.PlaceOrder c, OrderState s) =>
        s.Status != OrderStatus.Unplaced ? new OrderRejection.OrderAlreadyExists(c.OrderId)
        : !Money.IsValidAmount(c.AmountMinor) ? new MoneyRejection.InvalidAmount(c.AmountMinor)
        : !Currency.IsKnown(c.CurrencyCode) ? new MoneyRejection.UnknownCurrency(c.CurrencyCode)
        : c.CustomerAccountId == c.MerchantAccountId ? new MoneyRejection.SameAccount(c.CustomerAccountId)
        : null;

    /// <summary>
    /// The order's side of fulfilment: an authorised order becomes paid by its payment; a paid one stays as it is (a
    /// retry); any other is not payable this way (an order from before holds is paid by the payment process).
    /// </summary>
    public static Either<Rejection, Seq<OrderEvent>> Fulfil(OrderState s, string orderId) =>
        MustExist(s, orderId) ?? s.Status switch
        {
            OrderStatus.Authorized => Events(new OrderEvent.OrderPaid(s.OrderId, s.PaymentId)),
            OrderStatus.Paid when s.HoldId != "" => Events(),
            _ => new OrderRejection.OrderNotPayable(s.OrderId, s.Status),
        };

    /// <summary>An order is paid by exactly one payment: only that payment may settle it.</summary>
    private static Rejection? MustBeItsPayment(OrderState s, string paymentId) =>
        paymentId != s.PaymentId ? new OrderRejection.PaymentMismatch(s.OrderId, paymentId) : null;

    private static Rejection? MustExist(OrderState s, string orderId) =>
        s.Status == OrderStatus.Unplaced ? new OrderRejection.OrderNotFound(orderId) : null;

    private static Either<Rejection, Seq<OrderEvent>> Events(params OrderEvent[] events) => toSeq(events);

    // ---- Fold ----

    public static OrderState Evolve(OrderState s, OrderEvent e) => e switch
    {
        OrderEvent.OrderPlaced p => new OrderState(
            OrderStatus.Placed, p.OrderId, p.CustomerAccountId, p.MerchantAccountId, p.AmountMinor, p.CurrencyCode, p.PaymentId),
        OrderEvent.OrderPaid => s with { Status = OrderStatus.Paid },
        OrderEvent.OrderCancelled c => s with { Status = OrderStatus.Cancelled, CancellationReason = c.Reason },
        OrderEvent.OrderAuthorized a => new OrderState(
            OrderStatus.Authorized, a.OrderId, a.CustomerAccountId, a.MerchantAccountId, a.AmountMinor, a.CurrencyCode, a.PaymentId)
        {
            HoldId = a.HoldId,
        },
        OrderEvent.OrderDeclined d => new OrderState(
            OrderStatus.Cancelled, d.OrderId, d.CustomerAccountId, d.MerchantAccountId, d.AmountMinor, d.CurrencyCode, d.PaymentId)
        {
            CancellationReason = d.Reason,
        },
        _ => throw new UnreachableException($"unknown order event {e.GetType().Name}"),
    };
}

/// <summary>The stable storage names of order events.</summary>
public static class OrderEventTypes
{
    public static readonly IReadOnlyDictionary<string, Type> ByName = new Dictionary<string, Type>
    {
        ["orders.OrderPlaced.v1"] = typeof(OrderEvent.OrderPlaced),
        ["orders.OrderPaid.v1"] = typeof(OrderEvent.OrderPaid),
        ["orders.OrderCancelled.v1"] = typeof(OrderEvent.OrderCancelled),
        ["orders.OrderAuthorized.v1"] = typeof(OrderEvent.OrderAuthorized),
        ["orders.OrderDeclined.v1"] = typeof(OrderEvent.OrderDeclined),
    };
}
