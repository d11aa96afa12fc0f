using System.Collections.Immutable;
using System.Diagnostics;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Accounts;

public enum AccountStatus { Unopened, Active, Frozen, Closed }

/// <summary>What the write side knows about an account: all its rules need and nothing more.</summary>
/// <remarks>
/// Holds, limits and restrictions came later than the first five fields, so they are properties with defaults: every
/// account opened before them starts with none. Holds are kept after they resolve (with their outcome), so a second
/// capture or a release after expiry is told why it cannot happen.
/// </remarks>
public sealed record AccountState(AccountStatus Status, string AccountId, string OwnerName, string CurrencyCode, long BalanceMinor)
{
    public static readonly AccountState Initial = new(AccountStatus.Unopened, "", "", "", 0);

    /// <summary>The sum of the active holds: money reserved, still in the balance, not available.</summary>
    public long HeldMinor { get; init; }

    /// <summary>How far below zero the available balance may go (0: not at all). Set by an admin.</summary>
    public long OverdraftLimitMinor { get; init; }

    public bool DebitsBlocked { get; init; }

    public bool CreditsBlocked { get; init; }

    /// <summary>Why debits or credits are blocked; empty when neither is.</summary>
    public string RestrictionReason { get; init; } = "";

    /// <summary>Every hold ever placed on the account, by hold id, with its outcome.</summary>
    public ImmutableSortedDictionary<string, Hold> Holds { get; init; } = ImmutableSortedDictionary<string, Hold>.Empty;

    /// <summary>Balance minus active holds: what withdrawals, transfers and new holds are judged against (plus the overdraft limit).</summary>
    public long AvailableMinor => BalanceMinor - HeldMinor;

    // A record compares a dictionary by reference; states are equal when their holds are (a snapshot read back must
    // equal the fold it was written from).
    public bool Equals(AccountState? other) =>
        other is not null
        && (Status, AccountId, OwnerName, CurrencyCode, BalanceMinor, HeldMinor, OverdraftLimitMinor, DebitsBlocked, CreditsBlocked, RestrictionReason)
        == (other.Status, other.AccountId, other.OwnerName, other.CurrencyCode, other.BalanceMinor, other.HeldMinor, other.OverdraftLimitMinor,
            other.DebitsBlocked, other.CreditsBlocked, other.RestrictionReason)
        && Holds.Count == other.Holds.Count
        && Holds.All(h => other.Holds.TryGetValue(h.Key, out var o) && o == h.Value);

    public override int GetHashCode() => HashCode.Combine(AccountId, BalanceMinor, HeldMinor, Holds.Count);
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

    // Holds (Account.Holds.cs). Time arrives in the command: the Domain has no clock.
    /// <summary>Reserve money until <paramref name="ExpiresAt"/>; <paramref name="PlacedAt"/> is now, as the caller's clock says.</summary>
    public sealed record PlaceHold(
        string AccountId, string HoldId, long AmountMinor, string CurrencyCode, string Reference, DateTimeOffset ExpiresAt,
        DateTimeOffset PlacedAt) : AccountCommand;
    /// <summary>Take all (<paramref name="AmountMinor"/> 0) or part of a hold out of the account; the rest is released.</summary>
    public sealed record CaptureHold(string AccountId, string HoldId, long AmountMinor, string Reference, DateTimeOffset CapturedAt) : AccountCommand;
    public sealed record ReleaseHold(string AccountId, string HoldId) : AccountCommand;
    /// <summary>The bank's own release of a hold whose time is up, issued by the expiry process; early or late, never twice.</summary>
    public sealed record ExpireHold(string AccountId, string HoldId, DateTimeOffset Now) : AccountCommand;

    // Limits and restrictions (Account.Limits.cs).
    public sealed record SetOverdraftLimit(string AccountId, long LimitMinor) : AccountCommand;
    public sealed record RestrictAccount(string AccountId, bool BlockDebits, bool BlockCredits, string Reason) : AccountCommand;
    public sealed record LiftRestriction(string AccountId) : AccountCommand;
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

    public sealed record HoldPlaced(
        string AccountId, string HoldId, long AmountMinor, string CurrencyCode, string Reference, DateTimeOffset ExpiresAt) : AccountEvent;
    /// <summary>
    /// <paramref name="CapturedMinor"/> left the account; <paramref name="ReleasedMinor"/>, the rest of the hold, is free
    /// again. PaymentId and OrderId name what the capture paid (empty for a plain capture).
    /// </summary>
    public sealed record HoldCaptured(
        string AccountId, string HoldId, long CapturedMinor, long ReleasedMinor, string CurrencyCode, string Reference,
        string PaymentId, string OrderId) : AccountEvent;
    public sealed record HoldReleased(string AccountId, string HoldId, long AmountMinor) : AccountEvent;
    /// <summary>Released by the bank because its time was up.</summary>
    public sealed record HoldExpired(string AccountId, string HoldId, long AmountMinor, DateTimeOffset ExpiresAt) : AccountEvent;
    public sealed record OverdraftLimitSet(string AccountId, long LimitMinor) : AccountEvent;
    public sealed record AccountRestricted(string AccountId, bool DebitsBlocked, bool CreditsBlocked, string Reason) : AccountEvent;
    public sealed record RestrictionLifted(string AccountId) : AccountEvent;
}

/// <summary>The account aggregate: rules in <see cref="Decide"/>, bookkeeping in <see cref="Evolve"/>.</summary>
public static partial class Account
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
        AccountCommand.CreditForRefund c => Return(state, c.AccountId, c.Movement.AmountMinor, c.Movement.CurrencyCode,
            () => new AccountEvent.RefundCredited(state.AccountId, c.Movement, Settlement.Saga)),
        AccountCommand.PlaceHold c => PlaceHold(c, state),
        AccountCommand.CaptureHold c => CaptureHold(c, state),
        AccountCommand.ReleaseHold c => ReleaseHold(c, state),
        AccountCommand.ExpireHold c => ExpireHold(c, state),
        AccountCommand.SetOverdraftLimit c => SetOverdraftLimit(c, state),
        AccountCommand.RestrictAccount c => Restrict(c, state),
        AccountCommand.LiftRestriction c => LiftRestriction(c, state),
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

    /// <summary>
    /// Money in: allowed while frozen (a freeze stops money leaving), never when closed or while credits are blocked.
    /// Every credit's rule but a saga's return of the account's own money (<see cref="Return"/>).
    /// </summary>
    public static Either<Rejection, Seq<AccountEvent>> Credit(
        AccountState s, string accountId, long amountMinor, string currencyCode, Func<AccountEvent> credited) =>
        MustExist(s, accountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, amountMinor, currencyCode)
        ?? (s.CreditsBlocked ? new AccountRejection.CreditsBlocked(s.AccountId, s.RestrictionReason) : null)
        ?? WithinBalanceLimit(s, amountMinor)
        ?? Events(credited());

    /// <summary>
    /// Money back to the payer of a saga payment whose money already left the other side (the compensation when the
    /// payee could not receive, a refund's credit once the payee was debited). The saga has nowhere else to put it, and
    /// does not try a refused step again: refused, the money would be in flight for good. So a credit block placed
    /// meanwhile does not refuse it: the block stops new money in, this is the account's own coming back, which an
    /// atomic payment would never have taken. A closed account still does, money put there could never leave: the payment
    /// stays in flight, and says so (a dead letter of the payment process, <c>bankctl verify</c>).
    /// </summary>
    private static Either<Rejection, Seq<AccountEvent>> Return(
        AccountState s, string accountId, long amountMinor, string currencyCode, Func<AccountEvent> returned) =>
        MustExist(s, accountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, amountMinor, currencyCode)
        ?? WithinBalanceLimit(s, amountMinor)
        ?? Events(returned());

    private static Rejection? WithinBalanceLimit(AccountState s, long amountMinor) =>
        s.BalanceMinor + amountMinor > Money.MaxBalanceMinor ? new AccountRejection.BalanceLimitExceeded(s.AccountId, s.BalanceMinor, amountMinor) : null;

    /// <summary>
    /// What no later change can cure for money in: the account does not exist, is closed, or holds another currency.
    /// </summary>
    public static Rejection? CanNeverReceive(AccountState s, string accountId, string currencyCode) =>
        MustExist(s, accountId)
        ?? MustNotBeClosed(s)
        ?? (currencyCode != s.CurrencyCode ? new AccountRejection.CurrencyMismatch(s.AccountId, s.CurrencyCode, currencyCode) : null);

    /// <summary>
    /// Money out (a hold reserves money as if it went out): only from an active account whose debits are not blocked,
    /// never below minus the overdraft limit counting what is held. Every debit's rule.
    /// </summary>
    public static Either<Rejection, Seq<AccountEvent>> Debit(
        AccountState s, string accountId, long amountMinor, string currencyCode, Func<AccountEvent> debited) =>
        MustExist(s, accountId)
        ?? MustNotBeClosed(s)
        ?? MovementRules(s, amountMinor, currencyCode)
        ?? MayDebit(s)
        ?? (amountMinor > s.AvailableMinor + s.OverdraftLimitMinor
            ? new AccountRejection.InsufficientFunds(s.AccountId, s.BalanceMinor, amountMinor, s.AvailableMinor, s.OverdraftLimitMinor)
            : null)
        ?? Events(debited());

    /// <summary>Money may leave at all: not frozen, debits not blocked.</summary>
    private static Rejection? MayDebit(AccountState s) =>
        s.Status == AccountStatus.Frozen ? new AccountRejection.AccountFrozen(s.AccountId)
        : s.DebitsBlocked ? new AccountRejection.DebitsBlocked(s.AccountId, s.RestrictionReason)
        : null;

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
        ?? (s.HeldMinor != 0 ? new AccountRejection.AccountHasHolds(s.AccountId, s.HeldMinor) : null)
        ?? (s.BalanceMinor != 0 ? new AccountRejection.BalanceNotZero(s.BalanceMinor) : null)
        ?? Events(new AccountEvent.AccountClosed(s.AccountId));

    private static Rejection? MustExist(AccountState s, string accountId) =>
        s.Status == AccountStatus.Unopened ? new AccountRejection.AccountNotFound(accountId) : null;

    private static Rejection? MustNotBeClosed(AccountState s) =>
        s.Status == AccountStatus.Closed ? new AccountRejection.AccountClosed(s.AccountId) : null;

    private static Rejection? MovementRules(AccountState s, long amountMinor, string currencyCode) =>
        !Money.IsValidAmount(amountMinor) ? new MoneyRejection.InvalidAmount(amountMinor)
        : currencyCode != s.CurrencyCode ? new AccountRejection.CurrencyMismatch(s.AccountId, s.CurrencyCode, currencyCode)
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
        AccountEvent.HoldPlaced h => s with
        {
            HeldMinor = s.HeldMinor + h.AmountMinor,
            Holds = s.Holds.SetItem(h.HoldId, new Hold(h.HoldId, h.AmountMinor, h.CurrencyCode, h.Reference, h.ExpiresAt, HoldStatus.Active, 0)),
        },
        AccountEvent.HoldCaptured h => Resolved(s with { BalanceMinor = s.BalanceMinor - h.CapturedMinor },
            h.HoldId, h.CapturedMinor + h.ReleasedMinor, HoldStatus.Captured, h.CapturedMinor),
        AccountEvent.HoldReleased h => Resolved(s, h.HoldId, h.AmountMinor, HoldStatus.Released, 0),
        AccountEvent.HoldExpired h => Resolved(s, h.HoldId, h.AmountMinor, HoldStatus.Expired, 0),
        AccountEvent.OverdraftLimitSet l => s with { OverdraftLimitMinor = l.LimitMinor },
        AccountEvent.AccountRestricted r => s with { DebitsBlocked = r.DebitsBlocked, CreditsBlocked = r.CreditsBlocked, RestrictionReason = r.Reason },
        AccountEvent.RestrictionLifted => s with { DebitsBlocked = false, CreditsBlocked = false, RestrictionReason = "" },
        _ => throw new UnreachableException($"unknown account event {e.GetType().Name}"),
    };

    /// <summary>A hold resolved: its whole amount is no longer held, and it keeps its outcome.</summary>
    private static AccountState Resolved(AccountState s, string holdId, long unheldMinor, HoldStatus outcome, long capturedMinor) => s with
    {
        HeldMinor = s.HeldMinor - unheldMinor,
        Holds = s.Holds.TryGetValue(holdId, out var hold)
            ? s.Holds.SetItem(holdId, hold with { Status = outcome, CapturedMinor = capturedMinor })
            : s.Holds,
    };
}
