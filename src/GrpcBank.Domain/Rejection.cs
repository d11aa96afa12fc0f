namespace GrpcBank.Domain;

/// <summary>Why a command was refused. A value, never an exception; <see cref="Reason"/> is the public UPPER_SNAKE_CASE code.</summary>
public abstract record Rejection
{
    private Rejection(string reason) => Reason = reason;

    /// <summary>The stable public code, e.g. INSUFFICIENT_FUNDS.</summary>
    public string Reason { get; }

    public sealed record AccountNotFound(string AccountId) : Rejection("ACCOUNT_NOT_FOUND");
    public sealed record AccountAlreadyExists(string AccountId) : Rejection("ACCOUNT_ALREADY_EXISTS");
    public sealed record InvalidAmount(long AmountMinor) : Rejection("INVALID_AMOUNT");
    public sealed record CurrencyMismatch(string AccountCurrency, string RequestedCurrency) : Rejection("CURRENCY_MISMATCH");
    public sealed record InsufficientFunds(long BalanceMinor, long RequestedMinor) : Rejection("INSUFFICIENT_FUNDS");
    public sealed record BalanceLimitExceeded(long BalanceMinor, long RequestedMinor) : Rejection("BALANCE_LIMIT_EXCEEDED");
    public sealed record AccountFrozen(string AccountId) : Rejection("ACCOUNT_FROZEN");
    public sealed record AccountClosed(string AccountId) : Rejection("ACCOUNT_CLOSED");
    public sealed record BalanceNotZero(long BalanceMinor) : Rejection("BALANCE_NOT_ZERO");
    public sealed record OrderNotFound(string OrderId) : Rejection("ORDER_NOT_FOUND");
    public sealed record OrderAlreadyExists(string OrderId) : Rejection("ORDER_ALREADY_EXISTS");
    public sealed record OrderNotCancellable(string OrderId, string Status) : Rejection("ORDER_NOT_CANCELLABLE");
    public sealed record OrderNotPayable(string OrderId, string Status) : Rejection("ORDER_NOT_PAYABLE");
    public sealed record SameAccount(string AccountId) : Rejection("SAME_ACCOUNT");
    public sealed record PaymentMismatch(string OrderId, string PaymentId) : Rejection("PAYMENT_MISMATCH");
    public sealed record PaymentNotFound(string PaymentId) : Rejection("PAYMENT_NOT_FOUND");
    public sealed record PaymentAlreadyExists(string PaymentId) : Rejection("PAYMENT_ALREADY_EXISTS");
    public sealed record PaymentNotRefundable(string PaymentId, string Status) : Rejection("PAYMENT_NOT_REFUNDABLE");
}
