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
    DateTimeOffset UpdatedAt);

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

public enum TransactionKind { Deposit, Withdrawal, PaymentDebit, PaymentCredit, RefundDebit, RefundCredit }

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

public enum OrderViewStatus { Placed, Paid, Cancelled }

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
