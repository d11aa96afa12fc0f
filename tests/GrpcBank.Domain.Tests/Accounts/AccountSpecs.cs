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

    private static Movement MovementOf(long amountMinor, string currency = Eur) => new(PaymentId, OrderId, amountMinor, currency);
}
