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
}

// WARNING: these records are the storage format. Never rename a field or change its meaning;
// add a new event (….v2) and an upcaster instead. Storage names live in AccountEventTypes.
public abstract record AccountEvent
{
    private AccountEvent() { }

    public sealed record AccountOpened(string AccountId, string OwnerName, string CurrencyCode) : AccountEvent;
    public sealed record MoneyDeposited(string AccountId, long AmountMinor, string CurrencyCode, string Reference) : AccountEvent;
    public sealed record MoneyWithdrawn(string AccountId, long AmountMinor, string CurrencyCode, string Reference) : AccountEvent;
    public sealed record AccountFrozen(string AccountId, string Reason) : AccountEvent;
    public sealed record AccountUnfrozen(string AccountId) : AccountEvent;
    public sealed record AccountClosed(string AccountId) : AccountEvent;
}

/// <summary>The account aggregate: rules in <see cref="Decide"/>, bookkeeping in <see cref="Evolve"/>.</summary>
public static class Account
{
    public static readonly Decider<AccountCommand, AccountEvent, AccountState> Decider =
        new(AccountState.Initial, Decide, Evolve, IsTerminal);

    public static string StreamId(string accountId) => $"account-{accountId}";

    public static bool IsTerminal(AccountState state) => state.Status == AccountStatus.Closed;

    // ---- Decisions ----

    public static Either<Rejection, Seq<AccountEvent>> Decide(AccountCommand command, AccountState state) => command switch
    {
        AccountCommand.OpenAccount c => Open(c, state),
        AccountCommand.DepositMoney c => Deposit(c, state),
        AccountCommand.WithdrawMoney c => Withdraw(c, state),
        AccountCommand.FreezeAccount c => Freeze(c, state),
        AccountCommand.UnfreezeAccount c => Unfreeze(c, state),
        AccountCommand.CloseAccount c => Close(c, state),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown account command"),
    };

    private static Either<Rejection, Seq<AccountEvent>> Open(AccountCommand.OpenAccount c, AccountState s) =>
        s.Status == AccountStatus.Unopened
            ? Events(new AccountEvent.AccountOpened(c.AccountId, c.OwnerName, c.CurrencyCode))
            : new Rejection.AccountAlreadyExists(c.AccountId);

    private static Either<Rejection, Seq<AccountEvent>> Deposit(AccountCommand.DepositMoney c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, c.AmountMinor, c.CurrencyCode)
        ?? (s.BalanceMinor + c.AmountMinor > Money.MaxBalanceMinor
            ? new Rejection.BalanceLimitExceeded(s.BalanceMinor, c.AmountMinor)
            : null)
        ?? Events(new AccountEvent.MoneyDeposited(s.AccountId, c.AmountMinor, c.CurrencyCode, c.Reference));

    private static Either<Rejection, Seq<AccountEvent>> Withdraw(AccountCommand.WithdrawMoney c, AccountState s) =>
        MustExist(s, c.AccountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, c.AmountMinor, c.CurrencyCode)
        ?? (s.Status == AccountStatus.Frozen ? new Rejection.AccountFrozen(s.AccountId) : null)
        ?? (c.AmountMinor > s.BalanceMinor ? new Rejection.InsufficientFunds(s.BalanceMinor, c.AmountMinor) : null)
        ?? Events(new AccountEvent.MoneyWithdrawn(s.AccountId, c.AmountMinor, c.CurrencyCode, c.Reference));

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
        ?? (s.BalanceMinor != 0 ? new Rejection.BalanceNotZero(s.BalanceMinor) : null)
        ?? Events(new AccountEvent.AccountClosed(s.AccountId));

    private static Rejection? MustExist(AccountState s, string accountId) =>
        s.Status == AccountStatus.Unopened ? new Rejection.AccountNotFound(accountId) : null;

    private static Rejection? MustNotBeClosed(AccountState s) =>
        s.Status == AccountStatus.Closed ? new Rejection.AccountClosed(s.AccountId) : null;

    private static Rejection? MovementRules(AccountState s, long amountMinor, string currencyCode) =>
        !Money.IsValidAmount(amountMinor) ? new Rejection.InvalidAmount(amountMinor)
        : currencyCode != s.CurrencyCode ? new Rejection.CurrencyMismatch(s.CurrencyCode, currencyCode)
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
        _ => s,
    };
}
