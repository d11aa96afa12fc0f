namespace GrpcBank.Domain.Payments;

/// <summary>Why the payment decider refused a command.</summary>
public abstract record PaymentRejection : Rejection
{
    private PaymentRejection() { }

    public sealed record PaymentNotFound(string PaymentId) : PaymentRejection;
    public sealed record PaymentAlreadyExists(string PaymentId) : PaymentRejection;
    public sealed record PaymentNotRefundable(string PaymentId, PaymentStatus Status) : PaymentRejection;
    /// <summary>A plain transfer may not take the id of an order's payment (see <c>Order.PaymentIdOf</c>).</summary>
    public sealed record PaymentIdReserved(string PaymentId) : PaymentRejection;
}
