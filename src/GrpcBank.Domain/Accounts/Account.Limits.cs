using LanguageExt;

namespace GrpcBank.Domain.Accounts;

/// <summary>
/// The overdraft limit (how far below zero debits may take the available balance) and restrictions (debits and/or
/// credits blocked, with a reason; separate from a freeze, which stays as it is).
/// </summary>
public static partial class Account
{
    /// <summary>A limit an account may have: none (0) up to the largest single movement.</summary>
    public static bool IsValidOverdraftLimit(long limitMinor) => limitMinor is >= 0 and <= Money.MaxAmountMinor;

    private static Either<Rejection, Seq<AccountEvent>> SetOverdraftLimit(AccountCommand.SetOverdraftLimit c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? (!IsValidOverdraftLimit(c.LimitMinor) ? new AccountRejection.InvalidOverdraftLimit(c.LimitMinor) : null)
        // Lowering the limit below what is already drawn would leave the account out of bounds.
        ?? (c.LimitMinor != s.OverdraftLimitMinor && s.AvailableMinor < -c.LimitMinor
            ? new AccountRejection.OverdraftInUse(s.AvailableMinor, c.LimitMinor)
            : null)
        ?? (c.LimitMinor == s.OverdraftLimitMinor ? Events() : Events(new AccountEvent.OverdraftLimitSet(s.AccountId, c.LimitMinor)));

    /// <summary>A restriction blocks debits, credits or both: one of neither would be no restriction.</summary>
    public static bool BlocksAnything(bool blockDebits, bool blockCredits) => blockDebits || blockCredits;

    private static Either<Rejection, Seq<AccountEvent>> Restrict(AccountCommand.RestrictAccount c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? (!BlocksAnything(c.BlockDebits, c.BlockCredits) ? new AccountRejection.RestrictionBlocksNothing(c.AccountId) : null)
        // Only tightens: were it to unblock anything, whoever may restrict could undo an admin's block without the admin role.
        ?? ((s.DebitsBlocked && !c.BlockDebits) || (s.CreditsBlocked && !c.BlockCredits)
            ? new AccountRejection.RestrictionWouldLoosen(s.AccountId, s.DebitsBlocked, s.CreditsBlocked)
            : null)
        ?? ((s.DebitsBlocked, s.CreditsBlocked, s.RestrictionReason) == (c.BlockDebits, c.BlockCredits, c.Reason)
            ? Events()
            : Events(new AccountEvent.AccountRestricted(s.AccountId, c.BlockDebits, c.BlockCredits, c.Reason)));

    private static Either<Rejection, Seq<AccountEvent>> LiftRestriction(AccountCommand.LiftRestriction c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? (!s.DebitsBlocked && !s.CreditsBlocked ? Events() : Events(new AccountEvent.RestrictionLifted(s.AccountId)));
}
