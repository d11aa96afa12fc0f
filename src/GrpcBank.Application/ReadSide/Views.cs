namespace GrpcBank.Application.ReadSide;

/// <summary>An account as the read side shows it. <see cref="Version"/> is the stream version that produced it.</summary>
public sealed record AccountView(
    string AccountId,
    string OwnerName,
    string CurrencyCode,
    long BalanceMinor,
    AccountViewStatus Status,
    long Version,
    DateTimeOffset OpenedAt,
    DateTimeOffset UpdatedAt)
{
    // Holds, limits and restrictions came later: properties with defaults, so every store and older view keeps its shape.

    /// <summary>The sum of the account's active holds.</summary>
    public long HeldMinor { get; init; }

    public long OverdraftLimitMinor { get; init; }

    public bool DebitsBlocked { get; init; }

    public bool CreditsBlocked { get; init; }

    /// <summary>Balance minus active holds.</summary>
    public long AvailableMinor => BalanceMinor - HeldMinor;
}

public enum AccountViewStatus { Active, Frozen, Closed }

/// <summary>One money movement on an account's statement, with the balance right after it and what caused it.</summary>
public sealed record TransactionView(
    string TransactionId,
    string AccountId,
    TransactionKind Kind,
    long AmountMinor,
    string CurrencyCode,
    long BalanceAfterMinor,
    DateTimeOffset OccurredAt,
    string Reference,
    string PaymentId,
    string OrderId,
    long Position);

/// <summary>Capture: a hold taken out of the account (a captured order's hold is a PaymentDebit naming its payment).</summary>
public enum TransactionKind { Deposit, Withdrawal, PaymentDebit, PaymentCredit, RefundDebit, RefundCredit, Capture }

/// <summary>A hold on an account: what it reserved, how much of it was taken, and how it ended (or that it has not).</summary>
public sealed record HoldView(
    string AccountId,
    string HoldId,
    long AmountMinor,
    long CapturedMinor,
    string CurrencyCode,
    HoldViewStatus Status,
    string Reference,
    DateTimeOffset ExpiresAt,
    DateTimeOffset PlacedAt,
    DateTimeOffset UpdatedAt,
    long Position);

public enum HoldViewStatus { Active, Captured, Released, Expired }

/// <summary>What an account event does to the account's holds on the read side.</summary>
public abstract record HoldChange
{
    private HoldChange() { }

    public sealed record Placed(HoldView Hold) : HoldChange;

    /// <summary>The hold ended: only these fields change (the rest is as placed).</summary>
    public sealed record Resolved(string AccountId, string HoldId, HoldViewStatus Status, long CapturedMinor, DateTimeOffset At, long Position) : HoldChange;
}

public sealed record OrderView(
    string OrderId,
    string CustomerAccountId,
    string MerchantAccountId,
    long AmountMinor,
    string CurrencyCode,
    string Description,
    OrderViewStatus Status,
    string PaymentId,
    string CancellationReason,
    DateTimeOffset PlacedAt,
    DateTimeOffset UpdatedAt,
    long Version);

/// <summary>Stored by name on every read store; Authorized: the amount is held on the customer's account until fulfilment.</summary>
public enum OrderViewStatus { Placed, Paid, Cancelled, Authorized }

public sealed record PaymentView(
    string PaymentId,
    string OrderId,
    string FromAccountId,
    string ToAccountId,
    long AmountMinor,
    string CurrencyCode,
    PaymentViewStatus Status,
    string FailureReason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long Version);

/// <summary>Initiated covers every in-flight step; the public status changes only when the outcome is known.</summary>
public enum PaymentViewStatus { Initiated, Completed, Failed, Refunded }
