using System.Diagnostics;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Accounts;

public enum AccountStatus { Unopened, Active, Frozen, Closed }

/// <summary>What the write side knows about an account: all its rules need and nothing more.</summary>
public sealed record AccountState(AccountStatus Status, string AccountId, string OwnerName, string CurrencyCode, long BalanceMinor)
{
    public static readonly AccountState Initial = new(AccountStatus.Unopened, "", "", "", 0);
}

public abstract record AccountCommand
{
    private AccountCommand() { }

    public sealed record OpenAccount(string AccountId, string OwnerName, string CurrencyCode) : AccountCommand;
    public sealed record DepositMoney(string AccountId, long AmountMinor, string CurrencyCode, string Reference) : AccountCommand;
    public sealed record WithdrawMoney(string AccountId, long AmountMinor, string CurrencyCode, string Reference) : AccountCommand;
    public sealed record FreezeAccount(string AccountId, string Reason) : AccountCommand;
    public sealed record UnfreezeAccount(string AccountId) : AccountCommand;
    public sealed record CloseAccount(string AccountId) : AccountCommand;

    // Issued by the payment process; each names the payment (and order) that moves the money.
    public sealed record DebitForPayment(string AccountId, Movement Movement) : AccountCommand;
    public sealed record CreditForPayment(string AccountId, Movement Movement) : AccountCommand;
    public sealed record DebitForRefund(string AccountId, Movement Movement) : AccountCommand;
    public sealed record CreditForRefund(string AccountId, Movement Movement) : AccountCommand;
}

/// <summary>Money moved on an account on behalf of a payment; OrderId is empty for a plain transfer.</summary>
public sealed record Movement(string PaymentId, string OrderId, long AmountMinor, string CurrencyCode);

// WARNING: these records are the storage format. Never rename a field or change its meaning;
// add a new event (….v2) and an upcaster instead. Storage names live in AccountEventTypes; the upcasters of older
// shapes in the Application's event codec (Upcasters). Money movements say how their payment was settled.
public abstract record AccountEvent
{
    private AccountEvent() { }

    public sealed record AccountOpened(string AccountId, string OwnerName, string CurrencyCode) : AccountEvent;
    public sealed record MoneyDeposited(string AccountId, long AmountMinor, string CurrencyCode, string Reference) : AccountEvent;
    public sealed record MoneyWithdrawn(string AccountId, long AmountMinor, string CurrencyCode, string Reference) : AccountEvent;
    public sealed record AccountFrozen(string AccountId, string Reason) : AccountEvent;
    public sealed record AccountUnfrozen(string AccountId) : AccountEvent;
    public sealed record AccountClosed(string AccountId) : AccountEvent;
    public sealed record PaymentDebited(string AccountId, Movement Movement, Settlement Settlement) : AccountEvent;
    public sealed record PaymentCredited(string AccountId, Movement Movement, Settlement Settlement) : AccountEvent;
    public sealed record RefundDebited(string AccountId, Movement Movement, Settlement Settlement) : AccountEvent;
    public sealed record RefundCredited(string AccountId, Movement Movement, Settlement Settlement) : AccountEvent;
}

/// <summary>The account aggregate: rules in <see cref="Decide"/>, bookkeeping in <see cref="Evolve"/>.</summary>
public static class Account
{
    public static readonly Decider<AccountCommand, AccountEvent, AccountState> Decider =
        new(AccountState.Initial, Decide, Evolve);

    public static string StreamId(string accountId) => StreamIds.Of(StreamKind.Account, accountId);

    // ---- Decisions ----

    public static Either<Rejection, Seq<AccountEvent>> Decide(AccountCommand command, AccountState state) => command switch
    {
        AccountCommand.OpenAccount c => Open(c, state),
        AccountCommand.DepositMoney c => Deposit(c, state),
        AccountCommand.WithdrawMoney c => Withdraw(c, state),
        AccountCommand.FreezeAccount c => Freeze(c, state),
        AccountCommand.UnfreezeAccount c => Unfreeze(c, state),
        AccountCommand.CloseAccount c => Close(c, state),
        AccountCommand.DebitForPayment c => Debit(state, c.AccountId, c.Movement.AmountMinor, c.Movement.CurrencyCode,
            () => new AccountEvent.PaymentDebited(state.AccountId, c.Movement, Settlement.Saga)),
        AccountCommand.CreditForPayment c => Credit(state, c.AccountId, c.Movement.AmountMinor, c.Movement.CurrencyCode,
            () => new AccountEvent.PaymentCredited(state.AccountId, c.Movement, Settlement.Saga)),
        AccountCommand.DebitForRefund c => Debit(state, c.AccountId, c.Movement.AmountMinor, c.Movement.CurrencyCode,
            () => new AccountEvent.RefundDebited(state.AccountId, c.Movement, Settlement.Saga)),
        AccountCommand.CreditForRefund c => Credit(state, c.AccountId, c.Movement.AmountMinor, c.Movement.CurrencyCode,
            () => new AccountEvent.RefundCredited(state.AccountId, c.Movement, Settlement.Saga)),
        // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessTests prove no command gets here.
        _ => throw new UnreachableException($"unknown account command {command.GetType().Name}"),
    };

    private static Either<Rejection, Seq<AccountEvent>> Open(AccountCommand.OpenAccount c, AccountState s) =>
        s.Status != AccountStatus.Unopened ? new AccountRejection.AccountAlreadyExists(c.AccountId)
        : string.IsNullOrWhiteSpace(c.OwnerName) ? new AccountRejection.OwnerNameRequired(c.AccountId)
        : !Currency.IsKnown(c.CurrencyCode) ? new MoneyRejection.UnknownCurrency(c.CurrencyCode)
        : Events(new AccountEvent.AccountOpened(c.AccountId, c.OwnerName, c.CurrencyCode));

    private static Either<Rejection, Seq<AccountEvent>> Deposit(AccountCommand.DepositMoney c, AccountState s) =>
        Credit(s, c.AccountId, c.AmountMinor, c.CurrencyCode,
            () => new AccountEvent.MoneyDeposited(s.AccountId, c.AmountMinor, c.CurrencyCode, c.Reference));

    private static Either<Rejection, Seq<AccountEvent>> Withdraw(AccountCommand.WithdrawMoney c, AccountState s) =>
        Debit(s, c.AccountId, c.AmountMinor, c.CurrencyCode,
            () => new AccountEvent.MoneyWithdrawn(s.AccountId, c.AmountMinor, c.CurrencyCode, c.Reference));

    /// <summary>Money in: allowed while frozen (a freeze stops money leaving), never when closed. Every credit's rule.</summary>
    public static Either<Rejection, Seq<AccountEvent>> Credit(
        AccountState s, string accountId, long amountMinor, string currencyCode, Func<AccountEvent> credited) =>
        MustExist(s, accountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, amountMinor, currencyCode)
        ?? (s.BalanceMinor + amountMinor > Money.MaxBalanceMinor
            ? new AccountRejection.BalanceLimitExceeded(s.BalanceMinor, amountMinor)
            : null)
        ?? Events(credited());

    /// <summary>Money out: only from an active account, never below zero. Every debit's rule.</summary>
    public static Either<Rejection, Seq<AccountEvent>> Debit(
        AccountState s, string accountId, long amountMinor, string currencyCode, Func<AccountEvent> debited) =>
        MustExist(s, accountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, amountMinor, currencyCode)
        ?? (s.Status == AccountStatus.Frozen ? new AccountRejection.AccountFrozen(s.AccountId) : null)
        ?? (amountMinor > s.BalanceMinor ? new AccountRejection.InsufficientFunds(s.BalanceMinor, amountMinor) : null)
        ?? Events(debited());

    private static Either<Rejection, Seq<AccountEvent>> Freeze(AccountCommand.FreezeAccount c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? (s.Status == AccountStatus.Frozen
            ? Events()
            : Events(new AccountEvent.AccountFrozen(s.AccountId, c.Reason)));

    private static Either<Rejection, Seq<AccountEvent>> Unfreeze(AccountCommand.UnfreezeAccount c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? (s.Status == AccountStatus.Active
            ? Events()
            : Events(new AccountEvent.AccountUnfrozen(s.AccountId)));

    private static Either<Rejection, Seq<AccountEvent>> Close(AccountCommand.CloseAccount c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? (s.BalanceMinor != 0 ? new AccountRejection.BalanceNotZero(s.BalanceMinor) : null)
        ?? Events(new AccountEvent.AccountClosed(s.AccountId));

    private static Rejection? MustExist(AccountState s, string accountId) =>
        s.Status == AccountStatus.Unopened ? new AccountRejection.AccountNotFound(accountId) : null;

    private static Rejection? MustNotBeClosed(AccountState s) =>
        s.Status == AccountStatus.Closed ? new AccountRejection.AccountClosed(s.AccountId) : null;

    private static Rejection? MovementRules(AccountState s, long amountMinor, string currencyCode) =>
        !Money.IsValidAmount(amountMinor) ? new MoneyRejection.InvalidAmount(amountMinor)
        : currencyCode != s.CurrencyCode ? new AccountRejection.CurrencyMismatch(s.CurrencyCode, currencyCode)
        : null;

    private static Either<Rejection, Seq<AccountEvent>> Events(params AccountEvent[] events) => toSeq(events);

    // ---- Fold ----

    public static AccountState Evolve(AccountState s, AccountEvent e) => e switch
    {
        AccountEvent.AccountOpened o => new AccountState(AccountStatus.Active, o.AccountId, o.OwnerName, o.CurrencyCode, 0),
        AccountEvent.MoneyDeposited d => s with { BalanceMinor = s.BalanceMinor + d.AmountMinor },
        AccountEvent.MoneyWithdrawn w => s with { BalanceMinor = s.BalanceMinor - w.AmountMinor },
        AccountEvent.AccountFrozen => s with { Status = AccountStatus.Frozen },
        AccountEvent.AccountUnfrozen => s with { Status = AccountStatus.Active },
        AccountEvent.AccountClosed => s with { Status = AccountStatus.Closed },
        AccountEvent.PaymentDebited m => s with { BalanceMinor = s.BalanceMinor - m.Movement.AmountMinor },
        AccountEvent.PaymentCredited m => s with { BalanceMinor = s.BalanceMinor + m.Movement.AmountMinor },
        AccountEvent.RefundDebited m => s with { BalanceMinor = s.BalanceMinor - m.Movement.AmountMinor },
        AccountEvent.RefundCredited m => s with { BalanceMinor = s.BalanceMinor + m.Movement.AmountMinor },
        _ => throw new UnreachableException($"unknown account event {e.GetType().Name}"),
    };
}
