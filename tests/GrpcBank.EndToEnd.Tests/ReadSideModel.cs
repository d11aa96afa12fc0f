using Google.Protobuf.WellKnownTypes;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Query.V1;
using AccountEvent = GrpcBank.Domain.Accounts.AccountEvent;
using Movement = GrpcBank.Domain.Accounts.Movement;
using OrderEvent = GrpcBank.Domain.Orders.OrderEvent;
using PaymentEvent = GrpcBank.Domain.Payments.PaymentEvent;
using StoredEvent = GrpcBank.Application.EventStore.RecordedEvent;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// What the query service should answer, worked out here from the write side's history alone (the events as
/// HistoryService hands them out), by PROTOCOL.md's reading of each event: the differential specs' oracle. It shares
/// no code with the read side's projections, so a projection's slip shows as a difference.
/// </summary>
public sealed class ReadSideModel
{
    public Dictionary<string, Account> Accounts { get; } = [];
    public Dictionary<string, List<Transaction>> Transactions { get; } = [];
    public Dictionary<string, List<Hold>> Holds { get; } = [];
    public Dictionary<string, Payment> Payments { get; } = [];
    public Dictionary<string, Order> Orders { get; } = [];

    /// <summary>Each statement line's position, for the statement's order (oldest first).</summary>
    public Dictionary<string, long> LinePositions { get; } = [];

    public long Position { get; private set; }

    public static ReadSideModel Of(IEnumerable<StoredEvent> history)
    {
        var model = new ReadSideModel();
        foreach (var e in history) model.Apply(e);
        return model;
    }

    private void Apply(StoredEvent e)
    {
        Position = e.Position;
        var at = Timestamp.FromDateTimeOffset(e.RecordedAt);
        switch (EventCodecs.Decode(e))
        {
            case AccountEvent a: ApplyAccount(e, at, a); break;
            case PaymentEvent p: ApplyPayment(e, at, p); break;
            case OrderEvent o: ApplyOrder(e, at, o); break;
            default: throw new InvalidOperationException($"the model knows no {e.EventType}");
        }
    }

    private void ApplyAccount(StoredEvent e, Timestamp at, AccountEvent decoded)
    {
        if (decoded is AccountEvent.AccountOpened opened)
        {
            Accounts[opened.AccountId] = new Account
            {
                AccountId = opened.AccountId, OwnerName = opened.OwnerName, CurrencyCode = opened.CurrencyCode,
                Status = AccountStatus.Active, Version = e.StreamVersion, OpenedAt = at, UpdatedAt = at,
            };
            Transactions[opened.AccountId] = [];
            Holds[opened.AccountId] = [];
            return;
        }
        var account = Accounts[e.StreamId["account-".Length..]];
        account.Version = e.StreamVersion;
        account.UpdatedAt = at;
        switch (decoded)
        {
            case AccountEvent.MoneyDeposited d: Line(account, e, TransactionKind.Deposit, d.AmountMinor, d.Reference); break;
            case AccountEvent.MoneyWithdrawn w: Line(account, e, TransactionKind.Withdrawal, -w.AmountMinor, w.Reference); break;
            case AccountEvent.PaymentDebited m: Line(account, e, TransactionKind.PaymentDebit, -m.Movement.AmountMinor, m.Movement); break;
            case AccountEvent.PaymentCredited m: Line(account, e, TransactionKind.PaymentCredit, m.Movement.AmountMinor, m.Movement); break;
            case AccountEvent.RefundDebited m: Line(account, e, TransactionKind.RefundDebit, -m.Movement.AmountMinor, m.Movement); break;
            case AccountEvent.RefundCredited m: Line(account, e, TransactionKind.RefundCredit, m.Movement.AmountMinor, m.Movement); break;
            case AccountEvent.AccountFrozen: account.Status = AccountStatus.Frozen; break;
            case AccountEvent.AccountUnfrozen: account.Status = AccountStatus.Active; break;
            case AccountEvent.AccountClosed: account.Status = AccountStatus.Closed; break;
            case AccountEvent.OverdraftLimitSet l: account.OverdraftLimitMinor = l.LimitMinor; break;
            case AccountEvent.AccountRestricted r: (account.DebitsBlocked, account.CreditsBlocked) = (r.DebitsBlocked, r.CreditsBlocked); break;
            case AccountEvent.RestrictionLifted: (account.DebitsBlocked, account.CreditsBlocked) = (false, false); break;
            case AccountEvent.HoldPlaced h:
                account.HeldMinor += h.AmountMinor;
                Holds[account.AccountId].Add(new Hold
                {
                    HoldId = h.HoldId, AccountId = account.AccountId, AmountMinor = h.AmountMinor, CurrencyCode = h.CurrencyCode,
                    Status = HoldStatus.Active, Reference = h.Reference, ExpiresAt = Timestamp.FromDateTimeOffset(h.ExpiresAt),
                    PlacedAt = at, UpdatedAt = at, Position = e.Position,
                });
                break;
            case AccountEvent.HoldCaptured h:
                // The whole hold stops being held: the captured part leaves the account, the rest is free again.
                account.HeldMinor -= h.CapturedMinor + h.ReleasedMinor;
                if (h.PaymentId == "") Line(account, e, TransactionKind.Capture, -h.CapturedMinor, h.Reference);
                else Line(account, e, TransactionKind.PaymentDebit, -h.CapturedMinor, h.Reference, h.PaymentId, h.OrderId);
                Resolve(account, e, at, h.HoldId, HoldStatus.Captured, h.CapturedMinor);
                break;
            case AccountEvent.HoldReleased h:
                account.HeldMinor -= h.AmountMinor;
                Resolve(account, e, at, h.HoldId, HoldStatus.Released, 0);
                break;
            case AccountEvent.HoldExpired h:
                account.HeldMinor -= h.AmountMinor;
                Resolve(account, e, at, h.HoldId, HoldStatus.Expired, 0);
                break;
            default: throw new InvalidOperationException($"the model knows no {e.EventType}");
        }
        account.AvailableMinor = account.BalanceMinor - account.HeldMinor;
    }

    private void Resolve(Account account, StoredEvent e, Timestamp at, string holdId, HoldStatus status, long capturedMinor)
    {
        var hold = Holds[account.AccountId].Single(h => h.HoldId == holdId);
        hold.Status = status;
        hold.CapturedMinor = capturedMinor;
        hold.UpdatedAt = at;
        hold.Position = e.Position;
    }

    private void Line(Account account, StoredEvent e, TransactionKind kind, long signedMinor, Movement m) =>
        Line(account, e, kind, signedMinor, $"payment {m.PaymentId}", m.PaymentId, m.OrderId);

    private void Line(Account account, StoredEvent e, TransactionKind kind, long signedMinor, string reference, string paymentId = "", string orderId = "")
    {
        account.BalanceMinor += signedMinor;
        var line = new Transaction
        {
            TransactionId = e.EventId.ToString(), AccountId = account.AccountId, Kind = kind, AmountMinor = Math.Abs(signedMinor),
            CurrencyCode = account.CurrencyCode, BalanceAfterMinor = account.BalanceMinor, OccurredAt = Timestamp.FromDateTimeOffset(e.RecordedAt),
            Reference = reference, PaymentId = paymentId, OrderId = orderId,
        };
        Transactions[account.AccountId].Add(line);
        LinePositions[line.TransactionId] = e.Position;
    }

    private void ApplyPayment(StoredEvent e, Timestamp at, PaymentEvent decoded)
    {
        if (decoded is PaymentEvent.PaymentInitiated i)
        {
            Payments[i.PaymentId] = new Payment
            {
                PaymentId = i.PaymentId, OrderId = i.OrderId, FromAccountId = i.FromAccountId, ToAccountId = i.ToAccountId,
                AmountMinor = i.AmountMinor, CurrencyCode = i.CurrencyCode, Status = PaymentStatus.Initiated, CreatedAt = at,
                UpdatedAt = at, Version = e.StreamVersion,
            };
            return;
        }
        var payment = Payments[e.StreamId["payment-".Length..]];
        payment.Version = e.StreamVersion;
        payment.UpdatedAt = at;
        switch (decoded)
        {
            case PaymentEvent.PaymentCompleted: payment.Status = PaymentStatus.Completed; break;
            case PaymentEvent.PaymentFailed f: (payment.Status, payment.FailureReason) = (PaymentStatus.Failed, f.Reason); break;
            case PaymentEvent.PaymentRefunded: payment.Status = PaymentStatus.Refunded; break;
        }
    }

    private void ApplyOrder(StoredEvent e, Timestamp at, OrderEvent decoded)
    {
        Order Placed(string id, string customer, string merchant, long amount, string currency, string description, string paymentId,
            OrderStatus status, string reason) => new()
        {
            OrderId = id, CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = amount, CurrencyCode = currency,
            Description = description, PaymentId = paymentId, Status = status, CancellationReason = reason, PlacedAt = at, UpdatedAt = at,
            Version = e.StreamVersion,
        };
        switch (decoded)
        {
            case OrderEvent.OrderPlaced p:
                Orders[p.OrderId] = Placed(p.OrderId, p.CustomerAccountId, p.MerchantAccountId, p.AmountMinor, p.CurrencyCode, p.Description, p.PaymentId, OrderStatus.Placed, "");
                return;
            case OrderEvent.OrderAuthorized a:
                Orders[a.OrderId] = Placed(a.OrderId, a.CustomerAccountId, a.MerchantAccountId, a.AmountMinor, a.CurrencyCode, a.Description, a.PaymentId, OrderStatus.Authorized, "");
                return;
            case OrderEvent.OrderDeclined d:
                Orders[d.OrderId] = Placed(d.OrderId, d.CustomerAccountId, d.MerchantAccountId, d.AmountMinor, d.CurrencyCode, d.Description, d.PaymentId, OrderStatus.Cancelled, d.Reason);
                return;
        }
        var order = Orders[e.StreamId["order-".Length..]];
        order.Version = e.StreamVersion;
        order.UpdatedAt = at;
        switch (decoded)
        {
            case OrderEvent.OrderPaid: order.Status = OrderStatus.Paid; break;
            case OrderEvent.OrderCancelled c: (order.Status, order.CancellationReason) = (OrderStatus.Cancelled, c.Reason); break;
        }
    }

    /// <summary>Movements summed per UTC day or month, oldest first, over [from, to), as SummarizeTransactions promises.</summary>
    public SummarizeTransactionsResponse Summary(IEnumerable<Transaction> lines, DateTimeOffset? from, DateTimeOffset? to, SummaryInterval interval)
    {
        var chosen = lines.Where(t => (from is null || t.OccurredAt.ToDateTimeOffset() >= from) && (to is null || t.OccurredAt.ToDateTimeOffset() < to)).ToList();
        var response = new SummarizeTransactionsResponse { Totals = Sum(chosen) };
        foreach (var bucket in chosen.GroupBy(t => BucketStart(t.OccurredAt.ToDateTimeOffset(), interval)).OrderBy(g => g.Key))
        {
            var sum = Sum(bucket);
            sum.StartTime = Timestamp.FromDateTimeOffset(bucket.Key);
            response.Buckets.Add(sum);
        }
        return response;
    }

    private static DateTimeOffset BucketStart(DateTimeOffset at, SummaryInterval interval) =>
        interval == SummaryInterval.Month
            ? new DateTimeOffset(at.Year, at.Month, 1, 0, 0, 0, TimeSpan.Zero)
            : new DateTimeOffset(at.Year, at.Month, at.Day, 0, 0, 0, TimeSpan.Zero);

    private static readonly TransactionKind[] CreditKinds = [TransactionKind.Deposit, TransactionKind.PaymentCredit, TransactionKind.RefundCredit];

    private static TransactionSummary Sum(IEnumerable<Transaction> lines)
    {
        var list = lines.ToList();
        var credits = list.Where(t => CreditKinds.Contains(t.Kind)).ToList();
        var debits = list.Where(t => !CreditKinds.Contains(t.Kind)).ToList();
        return new TransactionSummary
        {
            CreditMinor = credits.Sum(t => t.AmountMinor), CreditCount = credits.Count,
            DebitMinor = debits.Sum(t => t.AmountMinor), DebitCount = debits.Count,
        };
    }
}
