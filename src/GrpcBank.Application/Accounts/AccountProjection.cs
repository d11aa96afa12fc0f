using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.Accounts;

/// <summary>
/// Pure: an account event and the current view give the next view and, for money movements, a statement line; for
/// holds, the change to the account's holds.
/// </summary>
public static class AccountProjection
{
    public static bool Handles(RecordedEvent e) => EventCodecs.Accounts.Knows(e.EventType);

    /// <summary>Null when the view already reflects this event (a redelivery).</summary>
    public static (AccountView View, TransactionView? Line, HoldChange? Hold)? Apply(AccountView? view, RecordedEvent e)
    {
        if (view is not null && view.Version >= e.StreamVersion) return null;
        var at = e.RecordedAt;
        var decoded = EventCodecs.Accounts.Decode(e);
        if (decoded is AccountEvent.AccountOpened o)
            return (new AccountView(o.AccountId, o.OwnerName, o.CurrencyCode, 0, AccountViewStatus.Active, e.StreamVersion, at, at), null, null);
        if (view is null) throw new InvalidDataException($"{e.EventType} at {e.StreamId}@{e.StreamVersion} has no account to apply to");
        return decoded switch
        {
            AccountEvent.MoneyDeposited d => Move(view, e, TransactionKind.Deposit, d.AmountMinor, d.Reference),
            AccountEvent.MoneyWithdrawn w => Move(view, e, TransactionKind.Withdrawal, w.AmountMinor, w.Reference),
            AccountEvent.PaymentDebited m => Move(view, e, TransactionKind.PaymentDebit, m.Movement),
            AccountEvent.PaymentCredited m => Move(view, e, TransactionKind.PaymentCredit, m.Movement),
            AccountEvent.RefundDebited m => Move(view, e, TransactionKind.RefundDebit, m.Movement),
            AccountEvent.RefundCredited m => Move(view, e, TransactionKind.RefundCredit, m.Movement),
            AccountEvent.AccountFrozen => (Touch(view, e) with { Status = AccountViewStatus.Frozen }, null, null),
            AccountEvent.AccountUnfrozen => (Touch(view, e) with { Status = AccountViewStatus.Active }, null, null),
            AccountEvent.AccountClosed => (Touch(view, e) with { Status = AccountViewStatus.Closed }, null, null),
            AccountEvent.HoldPlaced h => (Touch(view, e) with { HeldMinor = view.HeldMinor + h.AmountMinor }, null,
                new HoldChange.Placed(new HoldView(view.AccountId, h.HoldId, h.AmountMinor, 0, h.CurrencyCode, HoldViewStatus.Active, h.Reference,
                    h.ExpiresAt, at, at, e.Position))),
            AccountEvent.HoldCaptured h => Captured(view, e, h),
            AccountEvent.HoldReleased h => Unheld(view, e, h.HoldId, h.AmountMinor, HoldViewStatus.Released),
            AccountEvent.HoldExpired h => Unheld(view, e, h.HoldId, h.AmountMinor, HoldViewStatus.Expired),
            AccountEvent.OverdraftLimitSet l => (Touch(view, e) with { OverdraftLimitMinor = l.LimitMinor }, null, null),
            AccountEvent.AccountRestricted r => (Touch(view, e) with { DebitsBlocked = r.DebitsBlocked, CreditsBlocked = r.CreditsBlocked }, null, null),
            AccountEvent.RestrictionLifted => (Touch(view, e) with { DebitsBlocked = false, CreditsBlocked = false }, null, null),
            // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessSpecs prove no event gets here.
            _ => throw new UnreachableException($"{e.EventType} has no account projection"),
        };
    }

    /// <summary>A capture is a debit on the statement (a payment debit when it paid an order), and its whole hold is unheld.</summary>
    private static (AccountView, TransactionView?, HoldChange?) Captured(AccountView view, RecordedEvent e, AccountEvent.HoldCaptured h)
    {
        var (moved, line, _) = h.PaymentId == ""
            ? Move(view, e, TransactionKind.Capture, h.CapturedMinor, h.Reference)
            : Move(view, e, TransactionKind.PaymentDebit, h.CapturedMinor, h.Reference, h.PaymentId, h.OrderId);
        return (moved with { HeldMinor = view.HeldMinor - h.CapturedMinor - h.ReleasedMinor }, line,
            new HoldChange.Resolved(view.AccountId, h.HoldId, HoldViewStatus.Captured, h.CapturedMinor, e.RecordedAt, e.Position));
    }

    private static (AccountView, TransactionView?, HoldChange?) Unheld(AccountView view, RecordedEvent e, string holdId, long amountMinor, HoldViewStatus outcome) =>
        (Touch(view, e) with { HeldMinor = view.HeldMinor - amountMinor }, null,
            new HoldChange.Resolved(view.AccountId, holdId, outcome, 0, e.RecordedAt, e.Position));

    private static AccountView Touch(AccountView v, RecordedEvent e) => v with { Version = e.StreamVersion, UpdatedAt = e.RecordedAt };

    private static (AccountView, TransactionView?, HoldChange?) Move(AccountView v, RecordedEvent e, TransactionKind kind, Movement m) =>
        Move(v, e, kind, m.AmountMinor, $"payment {m.PaymentId}", m.PaymentId, m.OrderId);

    private static (AccountView, TransactionView?, HoldChange?) Move(
        AccountView v, RecordedEvent e, TransactionKind kind, long amountMinor, string reference,
        string paymentId = "", string orderId = "")
    {
        var next = Touch(v, e) with { BalanceMinor = v.BalanceMinor + kind.Sign() * amountMinor };
        var line = new TransactionView(e.EventId.ToString(), v.AccountId, kind, amountMinor, v.CurrencyCode, next.BalanceMinor,
            e.RecordedAt, reference, paymentId, orderId, e.Position);
        return (next, line, null);
    }
}
