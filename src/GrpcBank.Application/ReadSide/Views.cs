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

/// <summary>One money movement on an account's statement, with the balance right after it.</summary>
public sealed record TransactionView(
    string TransactionId,
    string AccountId,
    TransactionKind Kind,
    long AmountMinor,
    string CurrencyCode,
    long BalanceAfterMinor,
    DateTimeOffset OccurredAt,
    string Reference,
    long Position);

public enum TransactionKind { Deposit, Withdrawal }
