using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.Accounts;

/// <summary>Pure: an account event and the current view give the next view and, for money movements, a statement line.</summary>
public static class AccountProjection
{
    public static bool Handles(RecordedEvent e) => EventCodecs.Accounts.Knows(e.EventType);

    /// <summary>Null when the view already reflects this event (a redelivery).</summary>
    public static (AccountView View, TransactionView? Line)? Apply(AccountView? view, RecordedEvent e)
    {
        if (view is not null && view.Version >= e.StreamVersion) return null;
        var at = e.RecordedAt;
        var decoded = EventCodecs.Accounts.Decode(e);
        if (decoded is AccountEvent.AccountOpened o)
            return (new AccountView(o.AccountId, o.OwnerName, o.CurrencyCode, 0, AccountViewStatus.Active, e.StreamVersion, at, at), null);
        if (view is null) throw new InvalidDataException($"{e.EventType} at {e.StreamId}@{e.StreamVersion} has no account to apply to");
        return decoded switch
        {
            AccountEvent.MoneyDeposited d => Move(view, e, TransactionKind.Deposit, d.AmountMinor, d.Reference),
            AccountEvent.MoneyWithdrawn w => Move(view, e, TransactionKind.Withdrawal, w.AmountMinor, w.Reference),
            AccountEvent.PaymentDebited m => Move(view, e, TransactionKind.PaymentDebit, m.Movement),
            AccountEvent.PaymentCredited m => Move(view, e, TransactionKind.PaymentCredit, m.Movement),
            AccountEvent.RefundDebited m => Move(view, e, TransactionKind.RefundDebit, m.Movement),
            AccountEvent.RefundCredited m => Move(view, e, TransactionKind.RefundCredit, m.Movement),
            AccountEvent.AccountFrozen => (Touch(view, e) with { Status = AccountViewStatus.Frozen }, null),
            AccountEvent.AccountUnfrozen => (Touch(view, e) with { Status = AccountViewStatus.Active }, null),
            AccountEvent.AccountClosed => (Touch(view, e) with { Status = AccountViewStatus.Closed }, null),
            // C# cannot prove a closed hierarchy exhaustive; ExhaustivenessSpecs prove no event gets here.
            _ => throw new UnreachableException($"{e.EventType} has no account projection"),
        };
    }

    private static AccountView Touch(AccountView v, RecordedEvent e) => v with { Version = e.StreamVersion, UpdatedAt = e.RecordedAt };

    private static (AccountView, TransactionView?) Move(AccountView v, RecordedEvent e, TransactionKind kind, Movement m) =>
        Move(v, e, kind, m.AmountMinor, $"payment {m.PaymentId}", m.PaymentId, m.OrderId);

    private static (AccountView, TransactionView?) Move(
        AccountView v, RecordedEvent e, TransactionKind kind, long amountMinor, string reference,
        string paymentId = "", string orderId = "")
    {
        var next = Touch(v, e) with { BalanceMinor = v.BalanceMinor + kind.Sign() * amountMinor };
        var line = new TransactionView(e.EventId.ToString(), v.AccountId, kind, amountMinor, v.CurrencyCode, next.BalanceMinor,
            e.RecordedAt, reference, paymentId, orderId, e.Position);
        return (next, line);
    }
}
