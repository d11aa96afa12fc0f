namespace GrpcBank.Domain.Accounts;

/// <summary>Why the account decider refused a command.</summary>
public abstract record AccountRejection : Rejection
{
    private AccountRejection() { }

    public sealed record AccountNotFound(string AccountId) : AccountRejection;
    public sealed record AccountAlreadyExists(string AccountId) : AccountRejection;
    public sealed record OwnerNameRequired(string AccountId) : AccountRejection;
    public sealed record CurrencyMismatch(string AccountId, string AccountCurrency, string RequestedCurrency) : AccountRejection;
    /// <summary>The request exceeds the available balance (balance − held) plus the overdraft limit.</summary>
    public sealed record InsufficientFunds(string AccountId, long BalanceMinor, long RequestedMinor, long AvailableMinor, long OverdraftLimitMinor) : AccountRejection;
    public sealed record BalanceLimitExceeded(string AccountId, long BalanceMinor, long RequestedMinor) : AccountRejection;
    public sealed record AccountFrozen(string AccountId) : AccountRejection;
    public sealed record AccountClosed(string AccountId) : AccountRejection;
    public sealed record BalanceNotZero(long BalanceMinor) : AccountRejection;
    /// <summary>An account with active holds cannot close: release or capture them first.</summary>
    public sealed record AccountHasHolds(string AccountId, long HeldMinor) : AccountRejection;
    public sealed record DebitsBlocked(string AccountId, string Reason) : AccountRejection;
    public sealed record CreditsBlocked(string AccountId, string Reason) : AccountRejection;

    public sealed record HoldNotFound(string AccountId, string HoldId) : AccountRejection;
    /// <summary>The hold already resolved (captured, released or expired), or its time is up: it resolves at most once.</summary>
    public sealed record HoldNotActive(string HoldId, HoldStatus Status) : AccountRejection;
    /// <summary>The hold id is an order's (<see cref="OrderHoldIds"/>): only the order places, captures or releases it.</summary>
    public sealed record HoldIdReserved(string HoldId) : AccountRejection;
    public sealed record HoldAlreadyExists(string AccountId, string HoldId) : AccountRejection;
    public sealed record CaptureExceedsHold(string HoldId, long HeldMinor, long RequestedMinor) : AccountRejection;
    /// <summary>A hold must expire after it is placed.</summary>
    public sealed record HoldExpiryNotInFuture(DateTimeOffset ExpiresAt, DateTimeOffset PlacedAt) : AccountRejection;
    /// <summary>A hold may last at most <see cref="Account.MaxHoldLifetime"/>.</summary>
    public sealed record HoldExpiryTooFar(DateTimeOffset ExpiresAt, DateTimeOffset PlacedAt) : AccountRejection;
    public sealed record InvalidOverdraftLimit(long LimitMinor) : AccountRejection;
    /// <summary>The account already uses more overdraft than the new limit allows.</summary>
    public sealed record OverdraftInUse(long AvailableMinor, long LimitMinor) : AccountRejection;
    /// <summary>A restriction must block debits, credits or both.</summary>
    public sealed record RestrictionBlocksNothing(string AccountId) : AccountRejection;
    /// <summary>
    /// A restriction would unblock what is blocked now: it may only add blocks, since loosening one is
    /// <see cref="AccountCommand.LiftRestriction"/>'s, which the server grants the admin role alone.
    /// </summary>
    public sealed record RestrictionWouldLoosen(string AccountId, bool DebitsAreBlocked, bool CreditsAreBlocked) : AccountRejection;
}
