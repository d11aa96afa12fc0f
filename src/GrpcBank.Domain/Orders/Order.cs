using System.Diagnostics;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Orders;

public enum OrderStatus { Unplaced, Placed, Paid, Cancelled }

public sealed record OrderState(
    OrderStatus Status, string OrderId, string CustomerAccountId, string MerchantAccountId,
    long AmountMinor, string CurrencyCode, string PaymentId)
{
    public static readonly OrderState Initial = new(OrderStatus.Unplaced, "", "", "", 0, "", "");
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
}

/// <summary>An order is paid by exactly one payment, or cancelled (by the customer, or because its payment failed).</summary>
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
            OrderStatus.Placed => Events(new OrderEvent.OrderCancelled(s.OrderId, c.Reason)),
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
        // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessTests prove no command gets here.
        _ => throw new UnreachableException($"unknown order command {command.GetType().Name}"),
    };

    private static Either<Rejection, Seq<OrderEvent>> Place(OrderCommand.PlaceOrder c, OrderState s) =>
        s.Status != OrderStatus.Unplaced ? new OrderRejection.OrderAlreadyExists(c.OrderId)
        : !Money.IsValidAmount(c.AmountMinor) ? new MoneyRejection.InvalidAmount(c.AmountMinor)
        : !Currency.IsKnown(c.CurrencyCode) ? new MoneyRejection.UnknownCurrency(c.CurrencyCode)
        : c.CustomerAccountId == c.MerchantAccountId ? new MoneyRejection.SameAccount(c.CustomerAccountId)
        : Events(new OrderEvent.OrderPlaced(
            c.OrderId, c.CustomerAccountId, c.MerchantAccountId, c.AmountMinor, c.CurrencyCode, c.Description, PaymentIdOf(c.OrderId)));

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
        OrderEvent.OrderCancelled => s with { Status = OrderStatus.Cancelled },
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
    };
}
