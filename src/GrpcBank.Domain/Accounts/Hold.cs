namespace GrpcBank.Domain.Accounts;

/// <summary>How a hold ended, or that it has not yet. A hold resolves at most once.</summary>
public enum HoldStatus { Active, Captured, Released, Expired }

/// <summary>
/// Money reserved on an account until <see cref="ExpiresAt"/>: still in the balance, no longer available. It ends
/// captured (all or part taken out; the rest freed), released, or expired (released by the bank when its time is up).
/// </summary>
public sealed record Hold(
    string HoldId, long AmountMinor, string CurrencyCode, string Reference, DateTimeOffset ExpiresAt, HoldStatus Status, long CapturedMinor);
