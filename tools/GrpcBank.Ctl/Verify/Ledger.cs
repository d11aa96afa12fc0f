using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Ctl.Verify;

/// <summary>A stream folded with the Domain's own Evolve, and the version and position of its last event.</summary>
public sealed record Folded<TState>(string Id, TState State, long Version, long LastPosition);

/// <summary>
/// The write side, rebuilt from the event feed: every stream folded with the Domain's Evolve, the feed's order checked
/// (positions strictly increasing, versions 1..N without gaps), and every money movement tallied per payment and currency.
/// Pure: events in, state and problems out.
/// </summary>
public sealed class Ledger
{
    private readonly Dictionary<string, Folded<AccountState>> accounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Folded<PaymentState>> payments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Folded<OrderState>> orders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> versions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tally> movements = new(StringComparer.Ordinal);
    // Int128: a currency's totals add up every account's movements, past an int64 in a big enough bank (the balances of
    // 9,224 accounts at the 10^15 limit), where each account's own sums never are.
    private readonly Dictionary<string, (Int128 Deposits, Int128 Withdrawals)> cash = new(StringComparer.Ordinal);
    private readonly List<Problem> problems = [];

    public long Events { get; private set; }
    public long FirstPosition { get; private set; }
    public long LastPosition { get; private set; }

    public IReadOnlyCollection<Folded<AccountState>> Accounts => accounts.Values;
    public IReadOnlyCollection<Folded<PaymentState>> Payments => payments.Values;
    public IReadOnlyCollection<Folded<OrderState>> Orders => orders.Values;
    public IReadOnlyList<Problem> Problems => problems;

    public bool HasStream(string kind, string id) => kind switch
    {
        "account" => accounts.ContainsKey(id),
        "payment" => payments.ContainsKey(id),
        "order" => orders.ContainsKey(id),
        _ => false,
    };

    /// <summary>Folds one event of the feed, in feed order.</summary>
    public void Add(string streamId, long streamVersion, long position, string eventType, string dataJson)
    {
        Events++;
        if (FirstPosition == 0) FirstPosition = position;
        if (position <= LastPosition)
            problems.Add(Problem.Of("feed", $"position {position}", "position", $"after {LastPosition}",
                $"{streamId}@{streamVersion} arrived after position {LastPosition}: positions must strictly increase"));
        LastPosition = Math.Max(LastPosition, position);

        var expected = versions.GetValueOrDefault(streamId) + 1;
        if (streamVersion != expected)
            problems.Add(Problem.Of("stream", streamId, "stream_version", $"{expected}",
                $"version {streamVersion} at position {position} where {expected} was due: versions must run 1..N without gaps"));
        versions[streamId] = streamVersion;

        var (kind, id) = StreamIds.Parse(streamId).Match(s => ((StreamKind?)s.Kind, s.AggregateId), () => (null, streamId));
        try
        {
            switch (kind)
            {
                case StreamKind.Account when EventCodecs.Accounts.Knows(eventType):
                    var e = EventCodecs.Accounts.Decode(eventType, dataJson);
                    Fold(accounts, id, Account.Decider, e, streamVersion, position);
                    Count(accounts[id].State, e);
                    return;
                case StreamKind.Payment when EventCodecs.Payments.Knows(eventType):
                    Fold(payments, id, Payment.Decider, EventCodecs.Payments.Decode(eventType, dataJson), streamVersion, position);
                    return;
                case StreamKind.Order when EventCodecs.Orders.Knows(eventType):
                    Fold(orders, id, Order.Decider, EventCodecs.Orders.Decode(eventType, dataJson), streamVersion, position);
                    return;
            }
            problems.Add(Problem.Of("stream", streamId, "event_type", eventType,
                $"{eventType} at position {position} is not an event this bankctl knows for {streamId} (a newer server?): the fold is incomplete"));
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidDataException or NotSupportedException)
        {
            problems.Add(Problem.Of("stream", streamId, "data_json", eventType, $"{eventType} at position {position} does not decode: {ex.Message}"));
        }
    }

    private static void Fold<TCommand, TEvent, TState>(
        Dictionary<string, Folded<TState>> folds, string id, Domain.Decider<TCommand, TEvent, TState> decider, TEvent e, long version, long position)
    {
        var state = folds.TryGetValue(id, out var folded) ? folded.State : decider.Initial;
        folds[id] = new Folded<TState>(id, decider.Evolve(state, e), version, position);
    }

    private void Count(AccountState account, AccountEvent e)
    {
        var currency = account.CurrencyCode;
        switch (e)
        {
            case AccountEvent.MoneyDeposited d:
                var (deposits, withdrawals) = cash.GetValueOrDefault(currency);
                cash[currency] = (deposits + d.AmountMinor, withdrawals);
                break;
            case AccountEvent.MoneyWithdrawn w:
                (deposits, withdrawals) = cash.GetValueOrDefault(currency);
                cash[currency] = (deposits, withdrawals + w.AmountMinor);
                break;
            // A plain capture takes money out of the bank, like a withdrawal; one that paid something is a payment's debit.
            case AccountEvent.HoldCaptured { PaymentId: "" } c:
                (deposits, withdrawals) = cash.GetValueOrDefault(currency);
                cash[currency] = (deposits, withdrawals + c.CapturedMinor);
                break;
            case AccountEvent.HoldCaptured c:
                Movement(new Movement(c.PaymentId, c.OrderId, c.CapturedMinor, c.CurrencyCode), account.AccountId).PaymentDebited += c.CapturedMinor;
                break;
            case AccountEvent.PaymentDebited m: Movement(m.Movement, account.AccountId).PaymentDebited += m.Movement.AmountMinor; break;
            case AccountEvent.PaymentCredited m: Movement(m.Movement, account.AccountId).PaymentCredited += m.Movement.AmountMinor; break;
            case AccountEvent.RefundDebited m: Movement(m.Movement, account.AccountId).RefundDebited += m.Movement.AmountMinor; break;
            case AccountEvent.RefundCredited m: Movement(m.Movement, account.AccountId).RefundCredited += m.Movement.AmountMinor; break;
        }
    }

    private Tally Movement(Movement m, string accountId)
    {
        if (!movements.TryGetValue(m.PaymentId, out var tally)) movements[m.PaymentId] = tally = new Tally(m.CurrencyCode);
        if (!tally.Accounts.Contains(accountId)) tally.Accounts.Add(accountId);
        return tally;
    }

    /// <summary>
    /// The money invariants, once the feed is read: each payment's movements cancel out across accounts (a debit has
    /// its credit, or its compensation; a refund debit has its refund credit), no money is in flight, and per currency
    /// the balances add up to deposits − withdrawals (+ what in-flight payments hold, so in-flight money is reported
    /// once, as in flight, not again as unexplained).
    /// </summary>
    public MoneyCheck CheckMoney()
    {
        var found = new List<Problem>();
        var inFlight = new List<InFlight>();
        var unsettledByCurrency = new Dictionary<string, Int128>(StringComparer.Ordinal);
        foreach (var (paymentId, t) in movements.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var net = t.PaymentCredited + t.RefundCredited - t.PaymentDebited - t.RefundDebited;
            var status = payments.TryGetValue(paymentId, out var p) ? p.State.Status : PaymentStatus.Uninitiated;
            if (net == 0) continue;
            if (IsInFlight(status))
            {
                // Explained (the payment is still under way), yet wrong: transfers, refunds and order payments move money
                // in one atomic append, so no committed state holds money that left one account and has not reached the
                // other. Only a payment the saga of an earlier release left unfinished can be here.
                inFlight.Add(new InFlight(paymentId, Views.Describe(status), t.CurrencyCode, net, t.Describe()));
                found.Add(Problem.Of("money", $"payment {paymentId}", "in flight", Views.Describe(status),
                    $"{t.Describe()} on {string.Join(", ", t.Accounts)}: {-net} {t.CurrencyCode} in flight; money must never be in flight"));
                continue;
            }
            unsettledByCurrency[t.CurrencyCode] = unsettledByCurrency.GetValueOrDefault(t.CurrencyCode) + net;
            found.Add(Problem.Of("money", $"payment {paymentId}", "movements", status == PaymentStatus.Uninitiated ? "no payment stream" : Views.Describe(status),
                $"{t.Describe()} on {string.Join(", ", t.Accounts)}: they do not cancel out (net {net} {t.CurrencyCode})"
                + (status == PaymentStatus.Uninitiated ? "; there is no payment-" + paymentId + " stream" : "")));
        }

        found.AddRange(CheckHolds());

        var currencies = new List<CurrencyTotals>();
        var inFlightByCurrency = inFlight.GroupBy(f => f.CurrencyCode).ToDictionary(g => g.Key, g => Total(g.Select(f => f.NetMinor)));
        foreach (var currency in accounts.Values.Select(a => a.State.CurrencyCode).Concat(cash.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            var balances = Total(accounts.Values.Where(a => a.State.CurrencyCode == currency).Select(a => a.State.BalanceMinor));
            var (deposits, withdrawals) = cash.GetValueOrDefault(currency);
            var held = inFlightByCurrency.GetValueOrDefault(currency);
            var totals = new CurrencyTotals(currency, balances, deposits, withdrawals, held);
            currencies.Add(totals);
            if (totals.UnexplainedMinor != 0)
                found.Add(Problem.Of("money", currency, "sum of balances", $"{balances}",
                    $"balances {balances} ≠ deposits {deposits} − withdrawals {withdrawals}{(held != 0 ? $" + in flight {held}" : "")}: " +
                    $"{totals.UnexplainedMinor} {currency} unexplained" +
                    (unsettledByCurrency.GetValueOrDefault(currency) != 0 ? " (the payments above whose movements do not cancel out)" : "")));
        }
        return new MoneyCheck(movements.Count, currencies, inFlight, found);
    }

    /// <summary>
    /// Per account: what is held is the sum of its active holds (available = balance − active holds), and the available
    /// balance never went below minus the overdraft limit.
    /// </summary>
    private IEnumerable<Problem> CheckHolds()
    {
        foreach (var (id, folded) in accounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var account = folded.State;
            var active = Total(account.Holds.Values.Where(h => h.Status == HoldStatus.Active).Select(h => h.AmountMinor));
            if (account.HeldMinor != active)
                yield return Problem.Of("account", id, "held", $"{account.HeldMinor}",
                    $"holds {account.HeldMinor} {account.CurrencyCode}, but its active holds add up to {active}: available ≠ balance − active holds");
            if (account.AvailableMinor < -account.OverdraftLimitMinor)
                yield return Problem.Of("account", id, "available", $"{account.AvailableMinor}",
                    $"available {account.AvailableMinor} {account.CurrencyCode} is below minus its overdraft limit {account.OverdraftLimitMinor}");
        }
    }

    /// <summary>A sum that cannot overflow: LINQ's checked Sum of longs threw past an int64 and ended verify with a stack trace.</summary>
    private static Int128 Total(IEnumerable<long> amounts) => amounts.Aggregate(Int128.Zero, (sum, amount) => sum + amount);

    /// <summary>Every status but the settled ones (completed, failed, refunded) may hold a debit without its credit for now.</summary>
    private static bool IsInFlight(PaymentStatus status) =>
        status is PaymentStatus.Initiated or PaymentStatus.PayerDebited or PaymentStatus.Compensating
            or PaymentStatus.Refunding or PaymentStatus.RefundPayeeDebited;

    private sealed class Tally(string currencyCode)
    {
        public string CurrencyCode { get; } = currencyCode;
        public List<string> Accounts { get; } = [];
        public long PaymentDebited { get; set; }
        public long PaymentCredited { get; set; }
        public long RefundDebited { get; set; }
        public long RefundCredited { get; set; }

        public string Describe() =>
            $"debited {PaymentDebited}, credited {PaymentCredited}, refund debited {RefundDebited}, refund credited {RefundCredited} {CurrencyCode}";
    }
}

/// <summary>What the money check found: per currency totals, payments still moving money, and payments that do not balance.</summary>
public sealed record MoneyCheck(int PaymentsWithMovements, IReadOnlyList<CurrencyTotals> Currencies, IReadOnlyList<InFlight> InFlight, IReadOnlyList<Problem> Problems);

public sealed record CurrencyTotals(string CurrencyCode, Int128 BalancesMinor, Int128 DepositsMinor, Int128 WithdrawalsMinor, Int128 InFlightMinor)
{
    /// <summary>Σ balances − (deposits − withdrawals) − what in-flight payments hold: zero when every movement cancels out.</summary>
    public Int128 UnexplainedMinor => BalancesMinor - (DepositsMinor - WithdrawalsMinor) - InFlightMinor;
}

/// <summary>A payment still under way whose movements do not cancel out yet (e.g. payer debited, payee not yet credited).</summary>
public sealed record InFlight(string PaymentId, string Status, string CurrencyCode, long NetMinor, string Movements);
