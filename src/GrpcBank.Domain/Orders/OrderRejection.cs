namespace GrpcBank.Domain.Orders;

/// <summary>Why the order decider refused a command.</summary>
public abstract record OrderRejection : Rejection
{
    private OrderRejection() { }

    public sealed record OrderNotFound(string OrderId) : OrderRejection;
    public sealed record OrderAlreadyExists(string OrderId) : OrderRejection;
    public sealed record OrderNotCancellable(string OrderId, OrderStatus Status) : OrderRejection;
    public sealed record OrderNotPayable(string OrderId, OrderStatus Status) : OrderRejection;
    /// <summary>An order is settled only by its own payment.</summary>
    public sealed record PaymentMismatch(string OrderId, string PaymentId) : OrderRejection;
}
