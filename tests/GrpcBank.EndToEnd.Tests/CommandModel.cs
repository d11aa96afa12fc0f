using System.Collections.Immutable;
using Grpc.Core;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// The write side's rules as README.md and the protos' comments state them, worked out apart from GrpcBank.Domain: what
/// each command answers (OK with which version and balances, or the status and ErrorInfo reason) and the bank it leaves.
/// Immutable, so an atomic batch is decided on a copy and kept or dropped whole.
/// </summary>
/// <remarks>
/// Where the documents list a command's refusals without their order (an amount that is invalid on a closed account,
/// say), the model follows the order the server applies: the request's form first (amount, hold id), then existence,
/// closure, the hold, currency, freeze, blocks, funds. Amount limits (10^13 per movement, 10^15 per balance) are the
/// ones the server's refusal messages name; the README gives no figure.
/// </remarks>
public sealed record CommandModel(ImmutableSortedDictionary<string, CommandModel.AccountModel> Accounts, ImmutableSortedDictionary<string, CommandModel.PaymentModel> Payments)
{
    public const long MaxAmountMinor = 10_000_000_000_000;

    public const long MaxBalanceMinor = 1_000_000_000_000_000;

    public static readonly TimeSpan MaxHoldLifetime = TimeSpan.FromDays(31);

    /// <summary>How long an order's authorisation lasts when the request does not say.</summary>
    public static readonly TimeSpan DefaultAuthorizationTtl = TimeSpan.FromDays(7);

    /// <summary>An order's hold and its payment are named after it with this prefix; no client's hold may start with it.</summary>
    public const string OrderPrefix = "order-";

    public static readonly CommandModel Empty = new(ImmutableSortedDictionary<string, AccountModel>.Empty, ImmutableSortedDictionary<string, PaymentModel>.Empty);

    public ImmutableSortedDictionary<string, OrderModel> Orders { get; init; } = ImmutableSortedDictionary<string, OrderModel>.Empty;

    public enum Status { Active, Frozen, Closed }

    public enum HoldOutcome { Active, Captured, Released, Expired }

    public sealed record HoldModel(long AmountMinor, string CurrencyCode, string Reference, DateTimeOffset ExpiresAt, HoldOutcome Outcome);

    public sealed record AccountModel(string Id, string CurrencyCode)
    {
        public Status Status { get; init; } = Status.Active;
        public long BalanceMinor { get; init; }
        public long OverdraftLimitMinor { get; init; }
        public bool DebitsBlocked { get; init; }
        public bool CreditsBlocked { get; init; }
        public string RestrictionReason { get; init; } = "";
        public long Version { get; init; } = 1;
        public ImmutableSortedDictionary<string, HoldModel> Holds { get; init; } = ImmutableSortedDictionary<string, HoldModel>.Empty;

        public long HeldMinor => Holds.Values.Where(h => h.Outcome == HoldOutcome.Active).Sum(h => h.AmountMinor);

        public long AvailableMinor => BalanceMinor - HeldMinor;

        /// <summary>The most a debit may take now: down to minus the overdraft limit, counting what is held.</summary>
        public long DebitableMinor => AvailableMinor + OverdraftLimitMinor;

        public override string ToString() =>
            $"{Id} {CurrencyCode} {Status} v{Version} balance {BalanceMinor} held {HeldMinor} available {AvailableMinor} limit {OverdraftLimitMinor}" +
            $"{(DebitsBlocked ? " debits-blocked" : "")}{(CreditsBlocked ? " credits-blocked" : "")}";
    }

    public enum PaymentStatus { Completed, Refunded }

    public sealed record PaymentModel(string Id, string FromAccountId, string ToAccountId, long AmountMinor, string CurrencyCode, PaymentStatus Status, long Version);

    public enum OrderStatus { Authorized, Paid, Cancelled }

    public sealed record OrderModel(
        string Id, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode, OrderStatus Status, string CancellationReason, long Version)
    {
        public string HoldId => OrderPrefix + Id;
    }

    /// <summary>
    /// What the server answers: OK with the reply's version and whichever balances that reply carries (null where it
    /// carries none), or a status and ErrorInfo reason (and, for an atomic batch, the failing command's index). A placed
    /// order's reply says AUTHORIZED (with its expiry) or CANCELLED and the customer's account's reason.
    /// </summary>
    public sealed record Answer(
        StatusCode Code, string Reason = "", long Version = 0, long? BalanceMinor = null, long? HeldMinor = null, long? AvailableMinor = null,
        DateTimeOffset? ExpiresAt = null, string? Index = null, string? Order = null)
    {
        public bool IsOk => Code == StatusCode.OK;

        public static Answer Ok(long version) => new(StatusCode.OK, Version: version);

        public static Answer Failed(string reason) => new(StatusCode.FailedPrecondition, reason);
    }

    /// <summary>A command's answer and the bank after it (unchanged after a refusal or a no-op).</summary>
    public sealed record Decided(Answer Answer, CommandModel After);

    // ---- commands ----

    public abstract record Command;
    /// <summary>A command on one account.</summary>
    public abstract record OnAccount(string AccountId) : Command;
    public sealed record Open(string AccountId, string CurrencyCode) : OnAccount(AccountId);
    /// <summary><paramref name="ExpectedVersion"/> set: ABORTED unless the account is at it (0: does not exist).</summary>
    public sealed record Deposit(string AccountId, long AmountMinor, string CurrencyCode, long? ExpectedVersion = null) : OnAccount(AccountId);
    public sealed record Withdraw(string AccountId, long AmountMinor, string CurrencyCode, long? ExpectedVersion = null) : OnAccount(AccountId);
    public sealed record Freeze(string AccountId) : OnAccount(AccountId);
    public sealed record Unfreeze(string AccountId) : OnAccount(AccountId);
    public sealed record Close(string AccountId) : OnAccount(AccountId);
    public sealed record PlaceHold(string AccountId, string HoldId, long AmountMinor, string CurrencyCode, string Reference, DateTimeOffset ExpiresAt)
        : OnAccount(AccountId);
    /// <summary><paramref name="AmountMinor"/> 0: all of it.</summary>
    public sealed record Capture(string AccountId, string HoldId, long AmountMinor) : OnAccount(AccountId);
    public sealed record Release(string AccountId, string HoldId) : OnAccount(AccountId);
    public sealed record SetOverdraftLimit(string AccountId, long LimitMinor) : OnAccount(AccountId);
    public sealed record Restrict(string AccountId, bool BlockDebits, bool BlockCredits, string Reason) : OnAccount(AccountId);
    public sealed record LiftRestriction(string AccountId) : OnAccount(AccountId);
    public sealed record Transfer(string PaymentId, string FromAccountId, string ToAccountId, long AmountMinor, string CurrencyCode) : Command;
    public sealed record Refund(string PaymentId) : Command;
    /// <summary><paramref name="Ttl"/> null: the default authorisation.</summary>
    public sealed record PlaceOrder(string OrderId, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode, TimeSpan? Ttl)
        : Command;
    public sealed record FulfillOrder(string OrderId) : Command;
    public sealed record CancelOrder(string OrderId, string Reason) : Command;

    /// <summary>A request sent again under its request id: its first answer, nothing written.</summary>
    public sealed record Retried(Command Command, Answer First) : Command;
    /// <summary>A request id logged for another request: REQUEST_ID_REUSED, nothing written.</summary>
    public sealed record Reused(Command Command) : Command;
    /// <summary>In a batch, <paramref name="Command"/> under the request id the command at <paramref name="Index"/> carries.</summary>
    public sealed record SameIdAs(int Index, Command Command) : Command;

    /// <summary>The accounts <paramref name="command"/> may change.</summary>
    public IReadOnlyList<string> AccountsOf(Command command) => command switch
    {
        OnAccount c => [c.AccountId],
        Transfer c => [c.FromAccountId, c.ToAccountId],
        Refund c when Payments.TryGetValue(c.PaymentId, out var p) => [p.FromAccountId, p.ToAccountId],
        PlaceOrder c => [c.CustomerAccountId, c.MerchantAccountId],
        FulfillOrder c when Orders.TryGetValue(c.OrderId, out var o) => [o.CustomerAccountId, o.MerchantAccountId],
        CancelOrder c when Orders.TryGetValue(c.OrderId, out var o) => [o.CustomerAccountId, o.MerchantAccountId],
        Retried c => AccountsOf(c.Command),
        Reused c => AccountsOf(c.Command),
        SameIdAs c => AccountsOf(c.Command),
        _ => [],
    };

    /// <summary>What <paramref name="command"/> answers at <paramref name="now"/> (the server's clock), and the bank after it.</summary>
    public Decided Decide(Command command, DateTimeOffset now) => command switch
    {
        Open c => Accounts.ContainsKey(c.AccountId)
            ? Refuse(new Answer(StatusCode.AlreadyExists, "ACCOUNT_ALREADY_EXISTS"))
            : Accept(Answer.Ok(1), this with { Accounts = Accounts.Add(c.AccountId, new AccountModel(c.AccountId, c.CurrencyCode)) }),
        Deposit c => Decide(() => ValidAmount(c.AmountMinor) ?? NotAt(c.AccountId, c.ExpectedVersion) ?? Credit(c.AccountId, c.AmountMinor, c.CurrencyCode), a => a with { BalanceMinor = a.BalanceMinor + c.AmountMinor },
            c.AccountId, a => Answer.Ok(a.Version) with { BalanceMinor = a.BalanceMinor }),
        Withdraw c => Decide(() => ValidAmount(c.AmountMinor) ?? NotAt(c.AccountId, c.ExpectedVersion) ?? Debit(c.AccountId, c.AmountMinor, c.CurrencyCode), a => a with { BalanceMinor = a.BalanceMinor - c.AmountMinor },
            c.AccountId, a => Answer.Ok(a.Version) with { BalanceMinor = a.BalanceMinor }),
        Freeze c => Change(c.AccountId, a => a.Status == Status.Frozen ? a : a with { Status = Status.Frozen }),
        Unfreeze c => Change(c.AccountId, a => a.Status == Status.Active ? a : a with { Status = Status.Active }),
        Close c => Decide(() => NotClosed(c.AccountId) ?? (Accounts[c.AccountId] switch
            {
                { HeldMinor: not 0 } => Answer.Failed("ACCOUNT_HAS_HOLDS"),
                { BalanceMinor: not 0 } => Answer.Failed("BALANCE_NOT_ZERO"),
                _ => null,
            }), a => a with { Status = Status.Closed }, c.AccountId, a => Answer.Ok(a.Version)),
        PlaceHold c => PlaceHoldDecision(c, now),
        Capture c => CaptureDecision(c, now),
        Release c => Decide(() => NotAnOrdersHold(c.HoldId) ?? ActiveHold(c.AccountId, c.HoldId, dueAt: null), a => Resolve(a, c.HoldId, HoldOutcome.Released),
            c.AccountId, HoldReply),
        SetOverdraftLimit c => c.LimitMinor is < 0 or > MaxAmountMinor
            ? Refuse(new Answer(StatusCode.InvalidArgument, "INVALID_OVERDRAFT_LIMIT"))
            : Decide(() => NotClosed(c.AccountId) ?? (Accounts[c.AccountId] is var a && c.LimitMinor != a.OverdraftLimitMinor && a.AvailableMinor < -c.LimitMinor
                ? Answer.Failed("OVERDRAFT_IN_USE") : null),
                a => a with { OverdraftLimitMinor = c.LimitMinor }, c.AccountId, a => Answer.Ok(a.Version)),
        // A restriction of nothing is the client's mistake, told whatever the account, as any malformed field is.
        Restrict c when !c.BlockDebits && !c.BlockCredits => Refuse(new Answer(StatusCode.InvalidArgument, "RESTRICTION_BLOCKS_NOTHING")),
        Restrict c => Decide(() => NotClosed(c.AccountId)
                ?? (Accounts[c.AccountId] is var a && ((a.DebitsBlocked && !c.BlockDebits) || (a.CreditsBlocked && !c.BlockCredits))
                    ? Answer.Failed("RESTRICTION_WOULD_LOOSEN") : null),
            a => a with { DebitsBlocked = c.BlockDebits, CreditsBlocked = c.BlockCredits, RestrictionReason = c.Reason }, c.AccountId, a => Answer.Ok(a.Version)),
        LiftRestriction c => Change(c.AccountId, a => a with { DebitsBlocked = false, CreditsBlocked = false, RestrictionReason = "" }),
        Transfer c => TransferDecision(c),
        Refund c => RefundDecision(c),
        PlaceOrder c => PlaceOrderDecision(c, now),
        FulfillOrder c => FulfilDecision(c, now),
        CancelOrder c => CancelOrderDecision(c),
        Retried c => Accept(c.First, this),
        Reused => Refuse(Answer.Failed("REQUEST_ID_REUSED")),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
    };

    /// <summary>
    /// The bank's own expiry of every active hold due at <paramref name="now"/>: one event each on its account; an
    /// authorised order whose hold that was is then cancelled (AUTHORIZATION_EXPIRED) by the payment process.
    /// </summary>
    public CommandModel ExpireDue(DateTimeOffset now)
    {
        var expired = this with
        {
            Accounts = Accounts.SetItems(Accounts.Values.Select(a => a.Holds.Where(h => h.Value.Outcome == HoldOutcome.Active && h.Value.ExpiresAt <= now)
                .Aggregate(a, (account, hold) => Resolve(account, hold.Key, HoldOutcome.Expired) with { Version = account.Version + 1 }))
                .Select(a => KeyValuePair.Create(a.Id, a))),
        };
        return expired with
        {
            Orders = Orders.SetItems(Orders.Values
                .Where(o => o.Status == OrderStatus.Authorized && expired.Accounts[o.CustomerAccountId].Holds[o.HoldId].Outcome == HoldOutcome.Expired)
                .Select(o => KeyValuePair.Create(o.Id, o with { Status = OrderStatus.Cancelled, CancellationReason = "AUTHORIZATION_EXPIRED", Version = o.Version + 1 }))),
        };
    }

    /// <summary>
    /// An atomic batch: each command decided on the state the ones before it leave; all kept, or the first refusal is
    /// the call's answer (its index in ErrorInfo) and nothing is kept. All new or all done: commands done before beside
    /// new ones are REQUEST_ID_REUSED, naming the first done one; so is an id logged for another request, naming it.
    /// </summary>
    public (Answer? Refused, IReadOnlyList<Answer> Results, CommandModel After) Atomic(IReadOnlyList<Command> commands, DateTimeOffset now)
    {
        // The request log is looked at before any rule; the documents do not say which index a batch names when it holds
        // both, the server names an id used for another request before a command done before.
        if (commands.Any(c => c is SameIdAs)) return (new Answer(StatusCode.InvalidArgument), [], this);
        var reused = commands.ToList().FindIndex(c => c is Reused);
        var firstDone = commands.ToList().FindIndex(c => c is Retried);
        if (reused >= 0 || (firstDone >= 0 && commands.Any(c => c is not Retried)))
            return (Answer.Failed("REQUEST_ID_REUSED") with { Index = (reused >= 0 ? reused : firstDone).ToString() }, [], this);
        var model = this;
        var results = new List<Answer>();
        for (var i = 0; i < commands.Count; i++)
        {
            var (answer, after) = model.Decide(commands[i], now);
            if (!answer.IsOk) return (answer with { Index = i.ToString() }, [], this);
            results.Add(answer);
            model = after;
        }
        return (null, results, model);
    }

    /// <summary>
    /// The answers an independent batch may get, with the bank each leaves: its commands decided in order and the
    /// accepted ones written together; each refused one then runs again alone on what that commit left (README: "a
    /// refusal is judged once more on what the store holds after the batch's commit"), and those run side by side, in no
    /// promised order — so every order of them is a possible outcome.
    /// </summary>
    /// <remarks>
    /// A request id two commands carry is its first use's (README): once the first is accepted the second gets its
    /// answer if it is the same request, REQUEST_ID_REUSED if not; once the first is refused (nothing logged) the second
    /// runs as any command.
    /// </remarks>
    public IReadOnlyList<(IReadOnlyList<Answer> Results, CommandModel After)> Independent(IReadOnlyList<Command> commands, DateTimeOffset now)
    {
        var model = this;
        var results = new Answer[commands.Count];
        var refused = new List<int>();
        for (var i = 0; i < commands.Count; i++)
        {
            if (commands[i] is SameIdAs same && results[same.Index] is { IsOk: true } first)
                results[i] = same.Command == commands[same.Index] ? first : Answer.Failed("REQUEST_ID_REUSED");
            else if (commands[i] is not SameIdAs && model.Decide(commands[i], now) is { Answer.IsOk: true } accepted) (results[i], model) = accepted;
            else refused.Add(i);
        }
        var outcomes = new List<(IReadOnlyList<Answer>, CommandModel)>();
        // A later use of a request id runs only once every earlier use has its answer.
        foreach (var order in Sequences(refused).Where(o => o.All(i => UsesBefore(commands, i).All(j => results[j] is not null || o.TakeWhile(x => x != i).Contains(j)))))
        {
            var again = model;
            var answers = (Answer[])results.Clone();
            foreach (var i in order)
            {
                var command = commands[i] is SameIdAs same ? same.Command : commands[i];
                // The request the id was first accepted for, if any: the same request gets its answer, another is refused.
                var holder = UsesBefore(commands, i).FirstOrDefault(j => answers[j].IsOk, -1);
                (answers[i], again) = holder < 0 ? again.Decide(command, now)
                    : new Decided(command == Plain(commands[holder]) ? answers[holder] : Answer.Failed("REQUEST_ID_REUSED"), again);
            }
            if (!outcomes.Any(o => o.Item2 == again && o.Item1.SequenceEqual(answers))) outcomes.Add((answers, again));
        }
        return outcomes;
    }

    public bool Equals(CommandModel? other) =>
        other is not null && Accounts.Count == other.Accounts.Count && Payments.Count == other.Payments.Count && Orders.Count == other.Orders.Count
        && Accounts.All(a => other.Accounts.TryGetValue(a.Key, out var o) && Same(a.Value, o))
        && Payments.All(p => other.Payments.TryGetValue(p.Key, out var o) && o == p.Value)
        && Orders.All(p => other.Orders.TryGetValue(p.Key, out var o) && o == p.Value);

    public override int GetHashCode() => HashCode.Combine(Accounts.Count, Payments.Count, Orders.Count);

    private static bool Same(AccountModel a, AccountModel b) =>
        a with { Holds = ImmutableSortedDictionary<string, HoldModel>.Empty } == b with { Holds = ImmutableSortedDictionary<string, HoldModel>.Empty }
        && a.Holds.SequenceEqual(b.Holds);

    /// <summary>The commands of a batch before <paramref name="i"/> that carry its request id, if it is a later use of one.</summary>
    private static IEnumerable<int> UsesBefore(IReadOnlyList<Command> commands, int i) =>
        commands[i] is SameIdAs same ? Enumerable.Range(0, i).Where(j => j == same.Index || (commands[j] is SameIdAs other && other.Index == same.Index)) : [];

    private static Command Plain(Command command) => command is SameIdAs same ? same.Command : command;

    private static IEnumerable<IReadOnlyList<int>> Sequences(IReadOnlyList<int> items) =>
        items.Count <= 1 ? [items] : items.SelectMany(first => Sequences([.. items.Where(i => i != first)]).Select(rest => (IReadOnlyList<int>)[first, .. rest]));

    // ---- the rules ----

    private static Answer? ValidAmount(long amountMinor) =>
        amountMinor is > 0 and <= MaxAmountMinor ? null : new Answer(StatusCode.InvalidArgument, "INVALID_AMOUNT");

    /// <summary>An expected version the account is not at: the answer whatever the rules would say (the server checks it before them).</summary>
    private Answer? NotAt(string accountId, long? expectedVersion) =>
        expectedVersion is { } expected && expected != (Accounts.GetValueOrDefault(accountId)?.Version ?? 0)
            ? new Answer(StatusCode.Aborted, "WRONG_EXPECTED_VERSION")
            : null;

    private Answer? Exists(string accountId) => Accounts.ContainsKey(accountId) ? null : new Answer(StatusCode.NotFound, "ACCOUNT_NOT_FOUND");

    /// <summary>The account exists and is not closed.</summary>
    private Answer? NotClosed(string accountId) =>
        Exists(accountId) ?? (Accounts[accountId].Status == Status.Closed ? Answer.Failed("ACCOUNT_CLOSED") : null);

    /// <summary>Money in: allowed while frozen, never to a closed account, in another currency, while credits are blocked, or past the balance limit.</summary>
    private Answer? Credit(string accountId, long amountMinor, string currencyCode) =>
        ValidAmount(amountMinor) ?? NotClosed(accountId) ?? Accounts[accountId] switch
        {
            var a when a.CurrencyCode != currencyCode => Answer.Failed("CURRENCY_MISMATCH"),
            { CreditsBlocked: true } => Answer.Failed("CREDITS_BLOCKED"),
            var a when a.BalanceMinor + amountMinor > MaxBalanceMinor => Answer.Failed("BALANCE_LIMIT_EXCEEDED"),
            _ => null,
        };

    /// <summary>Money out: only from an active account whose debits are not blocked, down to minus the overdraft limit counting what is held.</summary>
    private Answer? Debit(string accountId, long amountMinor, string currencyCode) =>
        ValidAmount(amountMinor) ?? NotClosed(accountId) ?? Accounts[accountId] switch
        {
            var a when a.CurrencyCode != currencyCode => Answer.Failed("CURRENCY_MISMATCH"),
            _ => MayDebit(accountId),
        } ?? (amountMinor > Accounts[accountId].DebitableMinor ? Answer.Failed("INSUFFICIENT_FUNDS") : null);

    private Answer? MayDebit(string accountId) => Accounts[accountId] switch
    {
        { Status: Status.Frozen } => Answer.Failed("ACCOUNT_FROZEN"),
        { DebitsBlocked: true } => Answer.Failed("DEBITS_BLOCKED"),
        _ => null,
    };

    private Decided PlaceHoldDecision(PlaceHold c, DateTimeOffset now)
    {
        // A hold lasts at most 31 days: a later expiry is refused as malformed, before any rule of the account's
        // (INVALID_AMOUNT's comes first).
        if ((ValidAmount(c.AmountMinor)
             ?? (c.ExpiresAt > now + MaxHoldLifetime ? new Answer(StatusCode.InvalidArgument, "HOLD_EXPIRY_TOO_FAR") : null)
             ?? NotAnOrdersHold(c.HoldId)
             ?? NotClosed(c.AccountId)) is { } refused)
            return Refuse(refused);
        var hold = new HoldModel(c.AmountMinor, c.CurrencyCode, c.Reference, c.ExpiresAt, HoldOutcome.Active);
        if (Accounts[c.AccountId].Holds.TryGetValue(c.HoldId, out var existing))
            // The same hold placed again changes nothing; another under its id is refused.
            return existing with { Outcome = HoldOutcome.Active } == hold
                ? Accept(HoldReply(Accounts[c.AccountId]) with { ExpiresAt = c.ExpiresAt }, this)
                : Refuse(new Answer(StatusCode.AlreadyExists, "HOLD_ALREADY_EXISTS"));
        if (c.ExpiresAt <= now) return Refuse(new Answer(StatusCode.InvalidArgument, "HOLD_EXPIRY_NOT_IN_FUTURE"));
        return Decide(() => Debit(c.AccountId, c.AmountMinor, c.CurrencyCode), a => a with { Holds = a.Holds.Add(c.HoldId, hold) },
            c.AccountId, a => HoldReply(a) with { ExpiresAt = c.ExpiresAt });
    }

    private Decided CaptureDecision(Capture c, DateTimeOffset now)
    {
        if (c.AmountMinor < 0) return Refuse(new Answer(StatusCode.InvalidArgument, "INVALID_AMOUNT"));
        if ((NotAnOrdersHold(c.HoldId) ?? ActiveHold(c.AccountId, c.HoldId, dueAt: now)) is { } refused) return Refuse(refused);
        var hold = Accounts[c.AccountId].Holds[c.HoldId];
        var captured = c.AmountMinor == 0 ? hold.AmountMinor : c.AmountMinor;
        // A capture takes money that was reserved: no funds check of its own, but money must be allowed to leave.
        return Decide(() => captured > hold.AmountMinor ? Answer.Failed("CAPTURE_EXCEEDS_HOLD") : MayDebit(c.AccountId),
            a => Resolve(a, c.HoldId, HoldOutcome.Captured) with { BalanceMinor = a.BalanceMinor - captured }, c.AccountId, HoldReply);
    }

    /// <summary>An order's hold moves only with its order.</summary>
    private static Answer? NotAnOrdersHold(string holdId) =>
        holdId.StartsWith(OrderPrefix, StringComparison.Ordinal) ? new Answer(StatusCode.InvalidArgument, "HOLD_ID_RESERVED") : null;

    /// <summary>The hold exists and is active (and, given a time, not due at it: a due hold can no longer be taken).</summary>
    private Answer? ActiveHold(string accountId, string holdId, DateTimeOffset? dueAt) =>
        Exists(accountId) ?? (Accounts[accountId].Holds.TryGetValue(holdId, out var hold)
            ? hold.Outcome != HoldOutcome.Active || dueAt >= hold.ExpiresAt ? Answer.Failed("HOLD_NOT_ACTIVE") : null
            : new Answer(StatusCode.NotFound, "HOLD_NOT_FOUND"));

    private static AccountModel Resolve(AccountModel a, string holdId, HoldOutcome outcome) =>
        a with { Holds = a.Holds.SetItem(holdId, a.Holds[holdId] with { Outcome = outcome }) };

    private static Answer HoldReply(AccountModel a) =>
        Answer.Ok(a.Version) with { BalanceMinor = a.BalanceMinor, HeldMinor = a.HeldMinor, AvailableMinor = a.AvailableMinor };

    private Decided TransferDecision(Transfer c)
    {
        // An order's payment id is no transfer's: the server refuses it at the edge, naming payment_id.
        var refused = ValidAmount(c.AmountMinor)
            ?? (c.PaymentId.StartsWith(OrderPrefix, StringComparison.Ordinal) ? new Answer(StatusCode.InvalidArgument, "PAYMENT_ID_RESERVED") : null)
            ?? (Payments.ContainsKey(c.PaymentId) ? new Answer(StatusCode.AlreadyExists, "PAYMENT_ALREADY_EXISTS") : null)
            ?? Debit(c.FromAccountId, c.AmountMinor, c.CurrencyCode)
            ?? Credit(c.ToAccountId, c.AmountMinor, c.CurrencyCode);
        if (refused is not null) return Refuse(refused);
        var payment = new PaymentModel(c.PaymentId, c.FromAccountId, c.ToAccountId, c.AmountMinor, c.CurrencyCode, PaymentStatus.Completed, 2);
        return Accept(Answer.Ok(payment.Version), Moved(c.FromAccountId, c.ToAccountId, c.AmountMinor) with { Payments = Payments.Add(c.PaymentId, payment) });
    }

    /// <summary>A completed payment's money back: the payee debited, the payer credited, by the accounts' own rules.</summary>
    private Decided RefundDecision(Refund c)
    {
        if (!Payments.TryGetValue(c.PaymentId, out var p)) return Refuse(new Answer(StatusCode.NotFound, "PAYMENT_NOT_FOUND"));
        var refused = (p.Status != PaymentStatus.Completed ? Answer.Failed("PAYMENT_NOT_REFUNDABLE") : null)
            ?? Debit(p.ToAccountId, p.AmountMinor, p.CurrencyCode)
            ?? Credit(p.FromAccountId, p.AmountMinor, p.CurrencyCode);
        if (refused is not null) return Refuse(refused);
        var refunded = p with { Status = PaymentStatus.Refunded, Version = p.Version + 2 };
        return Accept(Answer.Ok(refunded.Version), Moved(p.ToAccountId, p.FromAccountId, p.AmountMinor) with { Payments = Payments.SetItem(p.Id, refunded) });
    }

    /// <summary>
    /// AUTHORIZED with the amount held on the customer's account until now + the ttl (to the microsecond), or CANCELLED
    /// with the reason the customer's account refuses the hold (the order recorded, nothing held). The order's own
    /// refusals and a merchant no fulfilment could pay (none, closed, another currency) write nothing.
    /// </summary>
    private Decided PlaceOrderDecision(PlaceOrder c, DateTimeOffset now)
    {
        var ttl = c.Ttl ?? DefaultAuthorizationTtl;
        var refused = ValidAmount(c.AmountMinor)
            // Both malformed: the ErrorInfo is the first field's the server checks, the accounts'.
            ?? (c.CustomerAccountId == c.MerchantAccountId ? new Answer(StatusCode.InvalidArgument, "SAME_ACCOUNT") : null)
            ?? (ttl <= TimeSpan.Zero ? new Answer(StatusCode.InvalidArgument, "HOLD_EXPIRY_NOT_IN_FUTURE") : null)
            ?? (ttl > MaxHoldLifetime ? new Answer(StatusCode.InvalidArgument, "HOLD_EXPIRY_TOO_FAR") : null)
            ?? (Orders.ContainsKey(c.OrderId) ? new Answer(StatusCode.AlreadyExists, "ORDER_ALREADY_EXISTS") : null)
            ?? NotClosed(c.MerchantAccountId)
            ?? (Accounts[c.MerchantAccountId].CurrencyCode != c.CurrencyCode ? Answer.Failed("CURRENCY_MISMATCH") : null);
        if (refused is not null) return Refuse(refused);
        var order = new OrderModel(c.OrderId, c.CustomerAccountId, c.MerchantAccountId, c.AmountMinor, c.CurrencyCode, OrderStatus.Authorized, "", 1);
        if (Debit(c.CustomerAccountId, c.AmountMinor, c.CurrencyCode) is { } declined)
            return Accept(Answer.Ok(1) with { Order = $"CANCELLED {declined.Reason}" },
                this with { Orders = Orders.Add(c.OrderId, order with { Status = OrderStatus.Cancelled, CancellationReason = declined.Reason }) });
        var expiresAt = now + ttl;
        expiresAt = expiresAt.AddTicks(-(expiresAt.Ticks % TimeSpan.TicksPerMicrosecond));
        var customer = Accounts[c.CustomerAccountId];
        var held = customer with
        {
            Holds = customer.Holds.Add(order.HoldId, new HoldModel(c.AmountMinor, c.CurrencyCode, $"order {c.OrderId}", expiresAt, HoldOutcome.Active)),
            Version = customer.Version + 1,
        };
        return Accept(Answer.Ok(1) with { Order = "AUTHORIZED", ExpiresAt = expiresAt },
            this with { Accounts = Accounts.SetItem(held.Id, held), Orders = Orders.Add(c.OrderId, order) });
    }

    /// <summary>The whole hold captured, the merchant credited, the payment COMPLETED and the order PAID, or the refusal and nothing written.</summary>
    private Decided FulfilDecision(FulfillOrder c, DateTimeOffset now)
    {
        if (!Orders.TryGetValue(c.OrderId, out var o)) return Refuse(new Answer(StatusCode.NotFound, "ORDER_NOT_FOUND"));
        if (o.Status == OrderStatus.Paid) return Accept(Answer.Ok(o.Version), this);
        // The documents name fulfilment of an AUTHORIZED order only; the server calls a cancelled one not payable.
        var refused = (o.Status == OrderStatus.Cancelled ? Answer.Failed("ORDER_NOT_PAYABLE") : null)
            ?? ActiveHold(o.CustomerAccountId, o.HoldId, dueAt: now)
            ?? MayDebit(o.CustomerAccountId)
            ?? Credit(o.MerchantAccountId, o.AmountMinor, o.CurrencyCode);
        if (refused is not null) return Refuse(refused);
        var moved = Moved(o.CustomerAccountId, o.MerchantAccountId, o.AmountMinor);
        var payment = new PaymentModel(OrderPrefix + o.Id, o.CustomerAccountId, o.MerchantAccountId, o.AmountMinor, o.CurrencyCode, PaymentStatus.Completed, 2);
        var paid = o with { Status = OrderStatus.Paid, Version = o.Version + 1 };
        return Accept(Answer.Ok(paid.Version), moved with
        {
            Accounts = moved.Accounts.SetItem(o.CustomerAccountId, Resolve(moved.Accounts[o.CustomerAccountId], o.HoldId, HoldOutcome.Captured)),
            Payments = Payments.Add(payment.Id, payment),
            Orders = Orders.SetItem(o.Id, paid),
        });
    }

    /// <summary>An order not yet paid cancelled, its hold released in the same commit; a cancelled one changes nothing.</summary>
    private Decided CancelOrderDecision(CancelOrder c)
    {
        if (!Orders.TryGetValue(c.OrderId, out var o)) return Refuse(new Answer(StatusCode.NotFound, "ORDER_NOT_FOUND"));
        if (o.Status == OrderStatus.Paid) return Refuse(Answer.Failed("ORDER_NOT_CANCELLABLE"));
        if (o.Status == OrderStatus.Cancelled) return Accept(Answer.Ok(o.Version), this);
        var cancelled = o with { Status = OrderStatus.Cancelled, CancellationReason = c.Reason, Version = o.Version + 1 };
        var customer = Accounts[o.CustomerAccountId];
        var released = Resolve(customer, o.HoldId, HoldOutcome.Released) with { Version = customer.Version + 1 };
        return Accept(Answer.Ok(cancelled.Version), this with { Accounts = Accounts.SetItem(released.Id, released), Orders = Orders.SetItem(o.Id, cancelled) });
    }

    private CommandModel Moved(string from, string to, long amountMinor) => this with
    {
        Accounts = Accounts
            .SetItem(from, Accounts[from] with { BalanceMinor = Accounts[from].BalanceMinor - amountMinor, Version = Accounts[from].Version + 1 })
            .SetItem(to, Accounts[to] with { BalanceMinor = Accounts[to].BalanceMinor + amountMinor, Version = Accounts[to].Version + 1 }),
    };

    /// <summary>A command on an open account that changes it or, when it would change nothing, writes nothing (a no-op, still OK).</summary>
    private Decided Change(string accountId, Func<AccountModel, AccountModel> change) =>
        Decide(() => NotClosed(accountId), change, accountId, a => Answer.Ok(a.Version));

    /// <summary>
    /// One account's command: refused by <paramref name="rule"/>, or <paramref name="change"/> written as one event (a
    /// version) unless it changes nothing, answered by <paramref name="reply"/> on the account after it.
    /// </summary>
    private Decided Decide(Func<Answer?> rule, Func<AccountModel, AccountModel> change, string accountId, Func<AccountModel, Answer> reply)
    {
        if (rule() is { } refused) return Refuse(refused);
        var before = Accounts[accountId];
        var after = change(before);
        if (Same(after, before)) return Accept(reply(before), this);
        after = after with { Version = before.Version + 1 };
        return Accept(reply(after), this with { Accounts = Accounts.SetItem(accountId, after) });
    }

    private Decided Refuse(Answer answer) => new(answer, this);

    private static Decided Accept(Answer answer, CommandModel after) => new(answer, after);
}
