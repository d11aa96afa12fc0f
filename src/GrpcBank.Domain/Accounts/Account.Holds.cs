using LanguageExt;

namespace GrpcBank.Domain.Accounts;

/// <summary>
/// Holds: reserve money now, take it (capture) or free it (release) later, at most once. The available balance
/// (balance − active holds) is what debits and new holds are judged against; a capture moves out money that was
/// reserved, so it needs no funds check of its own.
/// </summary>
public static partial class Account
{
    /// <summary>The longest a hold may last: card authorisations live days, not years.</summary>
    public static readonly TimeSpan MaxHoldLifetime = TimeSpan.FromDays(31);

    /// <summary>Why a hold placed at <paramref name="placedAt"/> may not expire at <paramref name="expiresAt"/>, or null if it may.</summary>
    public static Rejection? HoldExpiryRefusal(DateTimeOffset expiresAt, DateTimeOffset placedAt) =>
        expiresAt <= placedAt ? new AccountRejection.HoldExpiryNotInFuture(expiresAt, placedAt)
        : expiresAt > placedAt + MaxHoldLifetime ? new AccountRejection.HoldExpiryTooFar(expiresAt, placedAt)
        : null;

    private static Either<Rejection, Seq<AccountEvent>> PlaceHold(AccountCommand.PlaceHold c, AccountState s) =>
        NotAnOrdersHold(c.HoldId) ?? Reserve(s, c.AccountId, c.HoldId, c.AmountMinor, c.CurrencyCode, c.Reference, c.ExpiresAt, c.PlacedAt);

    /// <summary>
    /// Every hold's rule (a client's, or an order's authorisation): the account is open, the hold id is new (the same
    /// hold placed again changes nothing; its expiry as <see cref="HoldExpiryPrecision"/> keeps it), it expires after it
    /// is placed and within <see cref="MaxHoldLifetime"/>, and the money could be debited now.
    /// </summary>
    public static Either<Rejection, Seq<AccountEvent>> Reserve(
        AccountState s, string accountId, string holdId, long amountMinor, string currencyCode, string reference, DateTimeOffset expiresAt,
        DateTimeOffset placedAt)
    {
        if ((MustExist(s, accountId) ?? MustNotBeClosed(s)) is { } refused) return refused;
        if (s.Holds.TryGetValue(holdId, out var existing))
            return existing.AmountMinor == amountMinor && existing.CurrencyCode == currencyCode && existing.Reference == reference
                   && HoldExpiryPrecision.Same(existing.ExpiresAt, expiresAt)
                ? Events()
                : new AccountRejection.HoldAlreadyExists(s.AccountId, holdId);
        if (HoldExpiryRefusal(expiresAt, placedAt) is { } badExpiry) return badExpiry;
        return Debit(s, accountId, amountMinor, currencyCode,
            () => new AccountEvent.HoldPlaced(s.AccountId, holdId, amountMinor, currencyCode, reference, expiresAt));
    }

    private static Either<Rejection, Seq<AccountEvent>> CaptureHold(AccountCommand.CaptureHold c, AccountState s) =>
        NotAnOrdersHold(c.HoldId) ?? Capture(s, c.AccountId, c.HoldId, c.AmountMinor, c.Reference, c.CapturedAt, paymentId: "", orderId: "");

    /// <summary>An order's hold moves only with its order (<see cref="OrderHoldIds"/>).</summary>
    private static Rejection? NotAnOrdersHold(string holdId) =>
        OrderHoldIds.IsOrderHold(holdId) ? new AccountRejection.HoldIdReserved(holdId) : null;

    /// <summary>
    /// Every capture's rule: the hold is active and not yet due, the amount (0: all of it) is no more than it holds, and
    /// money may leave the account. The rest of the hold is released by the same event.
    /// </summary>
    public static Either<Rejection, Seq<AccountEvent>> Capture(
        AccountState s, string accountId, string holdId, long amountMinor, string reference, DateTimeOffset at, string paymentId, string orderId)
    {
        if (ActiveHold(s, accountId, holdId, at) is var (hold, refused) && refused is not null) return refused;
        var captured = amountMinor == 0 ? hold!.AmountMinor : amountMinor;
        return !Money.IsValidAmount(captured) ? new MoneyRejection.InvalidAmount(amountMinor)
            : captured > hold!.AmountMinor ? new AccountRejection.CaptureExceedsHold(holdId, hold.AmountMinor, captured)
            : MayDebit(s) is { } blocked ? blocked
            : Events(new AccountEvent.HoldCaptured(s.AccountId, holdId, captured, hold.AmountMinor - captured, hold.CurrencyCode, reference,
                paymentId, orderId));
    }

    private static Either<Rejection, Seq<AccountEvent>> ReleaseHold(AccountCommand.ReleaseHold c, AccountState s) =>
        NotAnOrdersHold(c.HoldId) ?? Release(s, c.AccountId, c.HoldId);

    /// <summary>Every release's rule: the hold exists and is still active (even if due: freeing it early is no harm).</summary>
    public static Either<Rejection, Seq<AccountEvent>> Release(AccountState s, string accountId, string holdId) =>
        ActiveHold(s, accountId, holdId, at: null) is var (hold, refused) && refused is not null
            ? refused
            : Events(new AccountEvent.HoldReleased(s.AccountId, holdId, hold!.AmountMinor));

    /// <summary>
    /// The bank's release of a hold whose time is up. Never early (before its time, nothing happens), never twice (a
    /// resolved hold is left as it is): the expiry process may ask as often as it likes.
    /// </summary>
    private static Either<Rejection, Seq<AccountEvent>> ExpireHold(AccountCommand.ExpireHold c, AccountState s)
    {
        if (MustExist(s, c.AccountId) is { } missing) return missing;
        if (!s.Holds.TryGetValue(c.HoldId, out var hold)) return new AccountRejection.HoldNotFound(c.AccountId, c.HoldId);
        return hold.Status != HoldStatus.Active || c.Now < hold.ExpiresAt
            ? Events()
            : Events(new AccountEvent.HoldExpired(s.AccountId, hold.HoldId, hold.AmountMinor, hold.ExpiresAt));
    }

    /// <summary>The hold, if it exists and is active (and, given a time, not yet due); otherwise why not.</summary>
    private static (Hold? Hold, Rejection? Refused) ActiveHold(AccountState s, string accountId, string holdId, DateTimeOffset? at)
    {
        if (MustExist(s, accountId) is { } missing) return (null, missing);
        if (!s.Holds.TryGetValue(holdId, out var hold)) return (null, new AccountRejection.HoldNotFound(accountId, holdId));
        if (hold.Status != HoldStatus.Active) return (hold, new AccountRejection.HoldNotActive(holdId, hold.Status));
        // Due but not yet expired by the bank: it may no longer be taken, and the expiry process will free it.
        if (at >= hold.ExpiresAt) return (hold, new AccountRejection.HoldNotActive(holdId, HoldStatus.Expired));
        return (hold, null);
    }
}
