using GrpcBank.Domain.Accounts;

namespace GrpcBank.Domain.Tests.Accounts;

/// <summary>Given/When/Then specifications of the account decider; one partial file per command.</summary>
public sealed partial class AccountSpecs
{
    // Fixed values so that every snapshot is stable. Amounts are minor units: 10000 is 100.00 EUR.
    private const string Id = "acc-0001";
    private const string Owner = "Ada Lovelace";
    private const string Eur = "EUR";
    private const string Usd = "USD";
    private const long Hundred = 10_000;
    private const string Reference = "ref-0001";
    private const string PaymentId = "pay-0001";
    private const string OrderId = "ord-0001";
    private const string HoldId = "hold-0001";
    private static readonly DateTimeOffset Now = new(2026, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Expiry = Now.AddMinutes(30);

    private static readonly Func<object, string> StorageName = StorageNames.From(AccountEventTypes.ByName);

    private static DeciderSpec<AccountCommand, AccountEvent, AccountState> Given(params AccountEvent[] history) =>
        new(Account.Decider, StorageName, history);

    // ---- History ----

    private static AccountEvent Opened => new AccountEvent.AccountOpened(Id, Owner, Eur);
    private static AccountEvent Deposited(long amountMinor) => new AccountEvent.MoneyDeposited(Id, amountMinor, Eur, Reference);
    private static AccountEvent Withdrawn(long amountMinor) => new AccountEvent.MoneyWithdrawn(Id, amountMinor, Eur, Reference);
    private static AccountEvent Frozen => new AccountEvent.AccountFrozen(Id, "compliance review");
    private static AccountEvent Unfrozen => new AccountEvent.AccountUnfrozen(Id);
    private static AccountEvent Closed => new AccountEvent.AccountClosed(Id);
    private static AccountEvent HoldPlaced(long amountMinor, string holdId = HoldId) =>
        new AccountEvent.HoldPlaced(Id, holdId, amountMinor, Eur, Reference, Expiry);
    private static AccountEvent HoldCaptured(long capturedMinor, long releasedMinor, string holdId = HoldId) =>
        new AccountEvent.HoldCaptured(Id, holdId, capturedMinor, releasedMinor, Eur, Reference, "", "");
    private static AccountEvent HoldReleased(long amountMinor) => new AccountEvent.HoldReleased(Id, HoldId, amountMinor);
    private static AccountEvent HoldExpired(long amountMinor) => new AccountEvent.HoldExpired(Id, HoldId, amountMinor, Expiry);
    private static AccountEvent OverdraftLimitSet(long limitMinor) => new AccountEvent.OverdraftLimitSet(Id, limitMinor);
    private static AccountEvent Restricted(bool debits, bool credits) => new AccountEvent.AccountRestricted(Id, debits, credits, "court order 17/2026");
    private static AccountEvent RestrictionLifted => new AccountEvent.RestrictionLifted(Id);
    private static AccountEvent PaymentCredited(long amountMinor) => new AccountEvent.PaymentCredited(Id, MovementOf(amountMinor), Settlement.Saga);

    // ---- Commands ----

    private static AccountCommand Open(string owner = Owner, string currency = Eur) => new AccountCommand.OpenAccount(Id, owner, currency);
    private static AccountCommand Deposit(long amountMinor, string currency = Eur) =>
        new AccountCommand.DepositMoney(Id, amountMinor, currency, Reference);
    private static AccountCommand Withdraw(long amountMinor, string currency = Eur) =>
        new AccountCommand.WithdrawMoney(Id, amountMinor, currency, Reference);
    private static AccountCommand Freeze() => new AccountCommand.FreezeAccount(Id, "suspicious activity");
    private static AccountCommand Unfreeze() => new AccountCommand.UnfreezeAccount(Id);
    private static AccountCommand Close() => new AccountCommand.CloseAccount(Id);
    private static AccountCommand DebitForPayment(long amountMinor, string currency = Eur) =>
        new AccountCommand.DebitForPayment(Id, MovementOf(amountMinor, currency));
    private static AccountCommand CreditForPayment(long amountMinor, string currency = Eur) =>
        new AccountCommand.CreditForPayment(Id, MovementOf(amountMinor, currency));
    private static AccountCommand DebitForRefund(long amountMinor, string currency = Eur) =>
        new AccountCommand.DebitForRefund(Id, MovementOf(amountMinor, currency));
    private static AccountCommand CreditForRefund(long amountMinor, string currency = Eur) =>
        new AccountCommand.CreditForRefund(Id, MovementOf(amountMinor, currency));

    private static AccountCommand PlaceHold(
        long amountMinor, string holdId = HoldId, DateTimeOffset? expiresAt = null, string currency = Eur, string reference = Reference) =>
        new AccountCommand.PlaceHold(Id, holdId, amountMinor, currency, reference, expiresAt ?? Expiry, Now);
    private static AccountCommand CaptureHold(long amountMinor, string holdId = HoldId, DateTimeOffset? at = null) =>
        new AccountCommand.CaptureHold(Id, holdId, amountMinor, "capture-0001", at ?? Now.AddMinutes(5));
    private static AccountCommand ReleaseHold(string holdId = HoldId) => new AccountCommand.ReleaseHold(Id, holdId);
    private static AccountCommand ExpireHold(DateTimeOffset now, string holdId = HoldId) => new AccountCommand.ExpireHold(Id, holdId, now);
    private static AccountCommand SetOverdraftLimit(long limitMinor) => new AccountCommand.SetOverdraftLimit(Id, limitMinor);
    private static AccountCommand Restrict(bool debits, bool credits) => new AccountCommand.RestrictAccount(Id, debits, credits, "court order 17/2026");
    private static AccountCommand LiftRestriction() => new AccountCommand.LiftRestriction(Id);

    private static Movement MovementOf(long amountMinor, string currency = Eur) => new(PaymentId, OrderId, amountMinor, currency);
}
