namespace GrpcBank.Domain.Accounts;

/// <summary>
/// The stable storage names of account events, in their current shapes. Names are never reused or renamed; older
/// shapes (….v1 of the movements, written before settlements were recorded) are read through the upcasters.
/// </summary>
public static class AccountEventTypes
{
    public static readonly IReadOnlyDictionary<string, Type> ByName = new Dictionary<string, Type>
    {
        ["accounts.AccountOpened.v1"] = typeof(AccountEvent.AccountOpened),
        ["accounts.MoneyDeposited.v1"] = typeof(AccountEvent.MoneyDeposited),
        ["accounts.MoneyWithdrawn.v1"] = typeof(AccountEvent.MoneyWithdrawn),
        ["accounts.AccountFrozen.v1"] = typeof(AccountEvent.AccountFrozen),
        ["accounts.AccountUnfrozen.v1"] = typeof(AccountEvent.AccountUnfrozen),
        ["accounts.AccountClosed.v1"] = typeof(AccountEvent.AccountClosed),
        ["accounts.PaymentDebited.v2"] = typeof(AccountEvent.PaymentDebited),
        ["accounts.PaymentCredited.v2"] = typeof(AccountEvent.PaymentCredited),
        ["accounts.RefundDebited.v2"] = typeof(AccountEvent.RefundDebited),
        ["accounts.RefundCredited.v2"] = typeof(AccountEvent.RefundCredited),
        ["accounts.HoldPlaced.v1"] = typeof(AccountEvent.HoldPlaced),
        ["accounts.HoldCaptured.v1"] = typeof(AccountEvent.HoldCaptured),
        ["accounts.HoldReleased.v1"] = typeof(AccountEvent.HoldReleased),
        ["accounts.HoldExpired.v1"] = typeof(AccountEvent.HoldExpired),
        ["accounts.OverdraftLimitSet.v1"] = typeof(AccountEvent.OverdraftLimitSet),
        ["accounts.AccountRestricted.v1"] = typeof(AccountEvent.AccountRestricted),
        ["accounts.RestrictionLifted.v1"] = typeof(AccountEvent.RestrictionLifted),
    };
}
