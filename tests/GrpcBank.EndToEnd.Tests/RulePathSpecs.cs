using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Domain;
using GrpcBank.Testing;
using static GrpcBank.EndToEnd.Tests.Rpc;
using Account = GrpcBank.Contracts.Query.V1.Account;
using Status = Google.Rpc.Status;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// One rule, every path: each account rule (frozen, closed, restricted, holds, the overdraft limit, currency, unknown
/// account, funds, the balance limit) is answered alike whichever way money moves — the single command, a transfer, an
/// independent and an atomic batch, a hold, an order, a refund — with the single command's status and ErrorInfo reason
/// (an order's placement: the same reason, recorded on the declined order), naming the account, and with nothing written
/// and nothing changed on the read side. Each row runs every path on fresh accounts of one server and names every path
/// that diverges. A capture (CaptureHold, FulfillOrder) needs no funds, the hold reserved them, but stops at a freeze or
/// a debit block alike on both; a refund refunds once, however the payment was made, and never beside a spend of the
/// same money.
/// </summary>
public abstract class RulePathSpecs : ClockedBankSpecs
{
    /// <summary>What every path tries to move.</summary>
    private const long Amount = 2_500;

    private static readonly Duration OneHour = Duration.FromTimeSpan(TimeSpan.FromHours(1));

    private BatchService.BatchServiceClient Batches => new(Host.Channel);

    private Task<long> HeadAsync() => Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

    /// <summary>An answer as a client tells it apart: OK, or the status, the ErrorInfo reason and the account it names.</summary>
    private sealed record Outcome(StatusCode Code, string Reason, string AccountId)
    {
        public static readonly Outcome Accepted = new(StatusCode.OK, "", "");

        public static Outcome Of(RpcException e) => Of(e.StatusCode, e.GetRpcStatus()?.GetDetail<ErrorInfo>());

        public static Outcome Of(Status s) => Of((StatusCode)s.Code, s.GetDetail<ErrorInfo>());

        private static Outcome Of(StatusCode code, ErrorInfo? info) =>
            new(code, info?.Reason ?? "", info?.Metadata.TryGetValue("account_id", out var id) == true ? id : "");

        public override string ToString() => Code == StatusCode.OK ? "OK" : $"{Code} {Reason} naming '{AccountId}'";
    }

    private static async Task<Outcome> AnswerOf(Func<Task> call)
    {
        try
        {
            await call();
            return Outcome.Accepted;
        }
        catch (RpcException e)
        {
            return Outcome.Of(e);
        }
    }

    /// <summary>An account's state before a move: its currency and balance, then what is done to it (frozen, restricted, …).</summary>
    public sealed record AccountCase(string Name, string Currency, long Balance, StatusCode Code, string Reason)
    {
        public bool Unknown => Name == "unknown";
    }

    // ---- Money out: the account a path debits (or holds on) ----

    private static readonly AccountCase[] DebitTable =
    [
        new("funded", "EUR", 5_000, StatusCode.OK, ""),
        new("frozen", "EUR", 5_000, StatusCode.FailedPrecondition, "ACCOUNT_FROZEN"),
        new("closed", "EUR", 0, StatusCode.FailedPrecondition, "ACCOUNT_CLOSED"),
        new("debits blocked", "EUR", 5_000, StatusCode.FailedPrecondition, "DEBITS_BLOCKED"),
        new("credits blocked", "EUR", 5_000, StatusCode.OK, ""),
        new("held", "EUR", 5_000, StatusCode.FailedPrecondition, "INSUFFICIENT_FUNDS"),
        new("short", "EUR", 2_000, StatusCode.FailedPrecondition, "INSUFFICIENT_FUNDS"),
        new("overdraft covers", "EUR", 1_000, StatusCode.OK, ""),
        new("overdraft short", "EUR", 1_000, StatusCode.FailedPrecondition, "INSUFFICIENT_FUNDS"),
        new("dollars", "USD", 5_000, StatusCode.FailedPrecondition, "CURRENCY_MISMATCH"),
        new("unknown", "EUR", 0, StatusCode.NotFound, "ACCOUNT_NOT_FOUND"),
    ];

    /// <summary>
    /// Puts an account in <paramref name="c"/>'s state, once it holds the case's balance (every table's cases of one name
    /// are the same state).
    /// </summary>
    private async Task ApplyAsync(AccountCase c, string id)
    {
        switch (c.Name)
        {
            case "frozen":
                await Bank.Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "fraud check" });
                break;
            case "closed":
                await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = id });
                break;
            case "debits blocked":
                await Bank.Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockDebits = true, Reason = "court order" });
                break;
            case "credits blocked":
                await Bank.Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockCredits = true, Reason = "sanctions" });
                break;
            case "held":
                await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = id, AmountMinor = 4_000, CurrencyCode = c.Currency, Ttl = OneHour });
                break;
            case "overdraft covers":
                await Bank.Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 2_000 });
                break;
            case "overdraft short":
                await Bank.Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 1_000 });
                break;
            case "full":
                // The largest balance an account may hold, in the largest single movements, in one commit.
                var fill = Enumerable.Range(0, (int)(Money.MaxBalanceMinor / Money.MaxAmountMinor)).Select(_ => new BatchCommand
                {
                    Deposit = new DepositMoneyRequest { AccountId = id, AmountMinor = Money.MaxAmountMinor, CurrencyCode = c.Currency },
                });
                await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands = { fill } });
                break;
            // After a hold of Amount (a capture's cases): the rest of the balance spent, or held by another hold.
            case "rest spent":
                await Bank.Accounts.WithdrawMoneyAsync(Withdrawal(id, c.Balance - Amount));
                break;
            case "rest held":
                await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = id, AmountMinor = c.Balance - Amount, CurrencyCode = "EUR", Ttl = OneHour });
                break;
        }
    }

    /// <summary>A debited account in <paramref name="c"/>'s state (its balance deposited first); an unknown one is never opened.</summary>
    private async Task<string> DebitedAccountAsync(AccountCase c)
    {
        if (c.Unknown) return "nobody-" + NewId();
        var id = await Bank.OpenAsync(deposit: c.Balance, currency: c.Currency);
        await ApplyAsync(c, id);
        return id;
    }

    private Task<string> CounterpartyAsync(long deposit = 0) => Bank.OpenAsync(deposit: deposit);

    /// <summary>
    /// Each path that takes money out of an account (or holds it), with what it answers. The account starts in the case's
    /// state; a path that must first pay the account (a refund) brings it there itself.
    /// </summary>
    private IEnumerable<(string Path, Func<AccountCase, Task<Attempt?>> Prepare)> DebitPaths()
    {
        yield return ("WithdrawMoney", async c =>
        {
            var id = await DebitedAccountAsync(c);
            return new Attempt(id, () => AnswerOf(() => Bank.Accounts.WithdrawMoneyAsync(Withdrawal(id)).ResponseAsync), Moved.Debited);
        });
        yield return ("TransferMoney (payer)", async c =>
        {
            var (id, to) = (await DebitedAccountAsync(c), await CounterpartyAsync());
            return new Attempt(id, () => AnswerOf(() => Bank.Payments.TransferMoneyAsync(TransferOf(id, to)).ResponseAsync), Moved.Debited);
        });
        yield return ("independent batch withdraw", async c =>
        {
            var id = await DebitedAccountAsync(c);
            return new Attempt(id, () => IndependentAsync(new BatchCommand { Withdraw = Withdrawal(id) }), Moved.Debited);
        });
        yield return ("independent batch transfer", async c =>
        {
            var (id, to) = (await DebitedAccountAsync(c), await CounterpartyAsync());
            return new Attempt(id, () => IndependentAsync(new BatchCommand { Transfer = TransferOf(id, to) }), Moved.Debited);
        });
        yield return ("atomic batch withdraw", async c =>
        {
            var (id, other) = (await DebitedAccountAsync(c), await CounterpartyAsync());
            return new Attempt(id, () => AtomicAsync(other, new BatchCommand { Withdraw = Withdrawal(id) }), Moved.Debited);
        });
        yield return ("atomic batch transfer", async c =>
        {
            var (id, to) = (await DebitedAccountAsync(c), await CounterpartyAsync());
            return new Attempt(id, () => AtomicAsync(to, new BatchCommand { Transfer = TransferOf(id, to) }), Moved.Debited);
        });
        yield return ("PlaceHold", async c =>
        {
            var id = await DebitedAccountAsync(c);
            return new Attempt(id, () => AnswerOf(() => Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest
            {
                AccountId = id, AmountMinor = Amount, CurrencyCode = "EUR", Ttl = OneHour,
            }).ResponseAsync), Moved.Held);
        });
        yield return ("PlaceOrder (customer)", async c =>
        {
            var (id, merchant) = (await DebitedAccountAsync(c), await CounterpartyAsync());
            return new Attempt(id, () => PlaceOrderAsync(id, merchant), Moved.Held, WritesOrderWhenDeclined: true);
        });
        yield return ("RefundPayment (payee)", async c =>
        {
            // A refund's money is the payment's, in the accounts' currency: neither an unknown payee nor another currency can arise.
            if (c.Unknown || c.Currency != "EUR") return null;
            var (payer, id) = (await CounterpartyAsync(deposit: Amount), await Bank.OpenAsync());
            var paid = await Bank.Payments.TransferMoneyAsync(TransferOf(payer, id));
            // The payee now holds what was paid; bring it to the case's balance, then into its state.
            if (c.Balance > Amount)
                await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = c.Balance - Amount, CurrencyCode = "EUR" });
            if (c.Balance < Amount) await Bank.Accounts.WithdrawMoneyAsync(Withdrawal(id, Amount - c.Balance));
            await ApplyAsync(c, id);
            return new Attempt(id, () => AnswerOf(() => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = paid.PaymentId }).ResponseAsync),
                Moved.Debited, Payment: paid.PaymentId);
        });
    }

    // ---- Money in: the account a path credits ----

    private static readonly AccountCase[] CreditTable =
    [
        new("open", "EUR", 0, StatusCode.OK, ""),
        new("frozen", "EUR", 0, StatusCode.OK, ""),
        new("debits blocked", "EUR", 0, StatusCode.OK, ""),
        new("closed", "EUR", 0, StatusCode.FailedPrecondition, "ACCOUNT_CLOSED"),
        new("credits blocked", "EUR", 0, StatusCode.FailedPrecondition, "CREDITS_BLOCKED"),
        new("full", "EUR", 0, StatusCode.FailedPrecondition, "BALANCE_LIMIT_EXCEEDED"),
        new("dollars", "USD", 0, StatusCode.FailedPrecondition, "CURRENCY_MISMATCH"),
        new("unknown", "EUR", 0, StatusCode.NotFound, "ACCOUNT_NOT_FOUND"),
    ];

    private async Task<string> CreditedAccountAsync(AccountCase c)
    {
        if (c.Unknown) return "nobody-" + NewId();
        var id = await Bank.OpenAsync(currency: c.Currency);
        await ApplyAsync(c, id);
        return id;
    }

    private IEnumerable<(string Path, Func<AccountCase, Task<Attempt?>> Prepare)> CreditPaths()
    {
        yield return ("DepositMoney", async c =>
        {
            var id = await CreditedAccountAsync(c);
            return new Attempt(id, () => AnswerOf(() => Bank.Accounts.DepositMoneyAsync(Deposit(id)).ResponseAsync), Moved.Credited);
        });
        yield return ("TransferMoney (payee)", async c =>
        {
            var (from, id) = (await CounterpartyAsync(deposit: Amount), await CreditedAccountAsync(c));
            return new Attempt(id, () => AnswerOf(() => Bank.Payments.TransferMoneyAsync(TransferOf(from, id)).ResponseAsync), Moved.Credited);
        });
        yield return ("independent batch deposit", async c =>
        {
            var id = await CreditedAccountAsync(c);
            return new Attempt(id, () => IndependentAsync(new BatchCommand { Deposit = Deposit(id) }), Moved.Credited);
        });
        yield return ("independent batch transfer", async c =>
        {
            var (from, id) = (await CounterpartyAsync(deposit: Amount), await CreditedAccountAsync(c));
            return new Attempt(id, () => IndependentAsync(new BatchCommand { Transfer = TransferOf(from, id) }), Moved.Credited);
        });
        yield return ("atomic batch deposit", async c =>
        {
            var (other, id) = (await CounterpartyAsync(), await CreditedAccountAsync(c));
            return new Attempt(id, () => AtomicAsync(other, new BatchCommand { Deposit = Deposit(id) }), Moved.Credited);
        });
        yield return ("atomic batch transfer", async c =>
        {
            var (from, id) = (await CounterpartyAsync(deposit: Amount), await CreditedAccountAsync(c));
            return new Attempt(id, () => AtomicAsync(from, new BatchCommand { Transfer = TransferOf(from, id) }), Moved.Credited);
        });
        yield return ("RefundPayment (payer)", async c =>
        {
            if (c.Unknown || c.Currency != "EUR") return null;
            // The payer paid all it had, so it stands at zero, as every credited account of this table does, before its state.
            var (id, to) = (await Bank.OpenAsync(deposit: Amount), await CounterpartyAsync());
            var paid = await Bank.Payments.TransferMoneyAsync(TransferOf(id, to));
            await ApplyAsync(c, id);
            return new Attempt(id, () => AnswerOf(() => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = paid.PaymentId }).ResponseAsync),
                Moved.Credited, Payment: paid.PaymentId);
        });
        yield return ("FulfillOrder (merchant)", async c =>
        {
            var customer = await CounterpartyAsync(deposit: Amount);
            // What never changes back (no such account, another currency) is judged when the order is placed, and the
            // placement refused; the rest is judged when it is fulfilled.
            if (c.Unknown || c.Currency != "EUR")
            {
                var merchant = await CreditedAccountAsync(c);
                return new Attempt(merchant, () => PlaceOrderAsync(customer, merchant), Moved.Nothing);
            }
            var id = await Bank.OpenAsync();
            var placed = await PlaceOrderOrFailAsync(customer, id);
            await ApplyAsync(c, id);
            return new Attempt(id, () => AnswerOf(() => Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = placed.OrderId }).ResponseAsync),
                Moved.Credited, Order: placed.OrderId);
        });
    }

    // ---- A capture: money the account reserved earlier leaves it ----

    /// <summary>
    /// The states an account may reach after a hold is placed on it. The hold reserved the money, so a capture needs no
    /// funds (the rest spent or held elsewhere is no matter); but a freeze or a block on debits stops it, as it stops any
    /// money leaving (FulfillOrder's and CaptureHold's proto comments).
    /// </summary>
    private static readonly AccountCase[] CaptureTable =
    [
        new("as it was", "EUR", 5_000, StatusCode.OK, ""),
        new("rest spent", "EUR", 5_000, StatusCode.OK, ""),
        new("rest held", "EUR", 5_000, StatusCode.OK, ""),
        new("credits blocked", "EUR", 5_000, StatusCode.OK, ""),
        new("frozen", "EUR", 5_000, StatusCode.FailedPrecondition, "ACCOUNT_FROZEN"),
        new("debits blocked", "EUR", 5_000, StatusCode.FailedPrecondition, "DEBITS_BLOCKED"),
    ];

    private IEnumerable<(string Path, Func<AccountCase, Task<Attempt?>> Prepare)> CapturePaths()
    {
        yield return ("CaptureHold", async c =>
        {
            var id = await Bank.OpenAsync(deposit: c.Balance);
            var hold = await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = id, AmountMinor = Amount, CurrencyCode = "EUR", Ttl = OneHour });
            await ApplyAsync(c, id);
            return new Attempt(id, () => AnswerOf(() => Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = id, HoldId = hold.HoldId }).ResponseAsync),
                Moved.Captured, Hold: hold.HoldId);
        });
        yield return ("FulfillOrder (customer)", async c =>
        {
            var (id, merchant) = (await Bank.OpenAsync(deposit: c.Balance), await CounterpartyAsync());
            var placed = await PlaceOrderOrFailAsync(id, merchant);
            await ApplyAsync(c, id);
            return new Attempt(id, () => AnswerOf(() => Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = placed.OrderId }).ResponseAsync),
                Moved.Captured, Order: placed.OrderId);
        });
    }

    // ---- Refunds: however the payment was made, once ----

    [Fact]
    public async Task ARefundAskedForTenTimesAtOnce_MovesTheMoneyBackOnce_AndEveryOtherIsNotRefundable()
    {
        var (payer, payee) = (await Bank.OpenAsync(deposit: Amount), await Bank.OpenAsync());
        var paid = await Bank.Payments.TransferMoneyAsync(TransferOf(payer, payee));

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => AnswerOf(() =>
            Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = paid.PaymentId, Reason = $"ask {i}" }).ResponseAsync)));

        Assert.Single(answers, a => a == Outcome.Accepted);
        Assert.All(answers.Where(a => a != Outcome.Accepted), a => Assert.Equal(new Outcome(StatusCode.FailedPrecondition, "PAYMENT_NOT_REFUNDABLE", ""), a));
        var head = await HeadAsync();
        Assert.Equal((Amount, 0L), ((await Bank.AccountAsync(payer, head)).BalanceMinor, (await Bank.AccountAsync(payee, head)).BalanceMinor));
        Assert.Single(await Host.Get<IEventStore>().ReadStreamAsync($"account-{payee}", 1, 100, CancellationToken.None),
            e => e.EventType.StartsWith("accounts.RefundDebited."));
        Assert.Equal(PaymentStatus.Refunded,
            (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paid.PaymentId, MinPosition = head })).Payment.Status);
    }

    [Fact]
    public async Task RefundsRacingThePayeeSpendingTheSameMoney_NeverBothTakeIt()
    {
        // Each round: the payee holds exactly the payment, and a refund and a withdrawal of it are sent at once.
        var payer = await Bank.OpenAsync(deposit: 20 * Amount);
        for (var round = 0; round < 20; round++)
        {
            var payee = await Bank.OpenAsync();
            var paid = await Bank.Payments.TransferMoneyAsync(TransferOf(payer, payee));

            var (refund, spend) = (
                AnswerOf(() => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = paid.PaymentId }).ResponseAsync),
                AnswerOf(() => Bank.Accounts.WithdrawMoneyAsync(Withdrawal(payee)).ResponseAsync));
            var answers = new[] { await refund, await spend };

            Assert.Single(answers, a => a == Outcome.Accepted);
            Assert.Single(answers, a => a == new Outcome(StatusCode.FailedPrecondition, "INSUFFICIENT_FUNDS", payee));
            Assert.Equal(0, (await Bank.AccountAsync(payee, await HeadAsync())).BalanceMinor);
        }
    }

    [Fact]
    public async Task APaymentMadeInABatchOfEitherModeOrByAnOrder_IsRefundedAsATransferIs_Once()
    {
        var (payer, payee) = (await Bank.OpenAsync(deposit: 4 * Amount), await Bank.OpenAsync());
        var single = (await Bank.Payments.TransferMoneyAsync(TransferOf(payer, payee))).PaymentId;
        var independent = (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { new BatchCommand { Transfer = TransferOf(payer, payee) } } }))
            .Results.Single().Transfer.PaymentId;
        var atomic = (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest
        {
            Atomic = true, Commands = { new BatchCommand { Deposit = Deposit(payer) }, new BatchCommand { Transfer = TransferOf(payer, payee) } },
        })).Results[1].Transfer.PaymentId;
        var placed = await PlaceOrderOrFailAsync(payer, payee);
        var ordered = (await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = placed.OrderId })).PaymentId;
        var head = await HeadAsync();
        var (payerBefore, payeeBefore) = ((await Bank.AccountAsync(payer, head)).BalanceMinor, (await Bank.AccountAsync(payee, head)).BalanceMinor);

        foreach (var (how, paymentId) in new[] { ("a transfer", single), ("an independent batch", independent), ("an atomic batch", atomic), ("an order", ordered) })
        {
            var refund = () => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = paymentId, Reason = "returned" }).ResponseAsync;
            var refunded = await refund();
            var payment = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId, MinPosition = refunded.Position })).Payment;
            Assert.True(payment.Status == PaymentStatus.Refunded, $"the payment made by {how} is {payment.Status}");
            Assert.Equal(new Outcome(StatusCode.FailedPrecondition, "PAYMENT_NOT_REFUNDABLE", ""), await AnswerOf(refund));
        }

        head = await HeadAsync();
        Assert.Equal((payerBefore + 4 * Amount, payeeBefore - 4 * Amount),
            ((await Bank.AccountAsync(payer, head)).BalanceMinor, (await Bank.AccountAsync(payee, head)).BalanceMinor));
    }

    // ---- The matrix ----

    /// <summary>Each case of each table: money out (DebitPaths), money in (CreditPaths), a capture (CapturePaths).</summary>
    public static TheoryData<string, string> Rows
    {
        get
        {
            var rows = new TheoryData<string, string>();
            foreach (var (kind, table) in new[] { ("money out", DebitTable), ("money in", CreditTable), ("capture", CaptureTable) })
                foreach (var c in table) rows.Add(kind, c.Name);
            return rows;
        }
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task EachRule_IsAnsweredAlikeOnEveryPathMoneyTakes_AndARefusalWritesNothing(string kind, string @case)
    {
        var (table, paths) = kind switch
        {
            "money out" => (DebitTable, DebitPaths()),
            "money in" => (CreditTable, CreditPaths()),
            _ => (CaptureTable, CapturePaths()),
        };
        await EveryPathAsync(paths, table.Single(c => c.Name == @case));
    }

    private enum Moved { Debited, Credited, Held, Captured, Nothing }

    /// <summary>A path ready to try on <paramref name="Subject"/>, the account the rule is about.</summary>
    private sealed record Attempt(
        string Subject, Func<Task<Outcome>> Run, Moved Moved, bool WritesOrderWhenDeclined = false, string? Payment = null, string? Order = null,
        string? Hold = null);

    /// <summary>
    /// Runs every path on <paramref name="c"/> and checks each alike: the case's answer, naming the account; a refusal
    /// writes nothing (the store's head, the account's stream) and the read side shows the account as it was; an
    /// acceptance moves the amount as the path says. Every divergence is collected, so one run names them all.
    /// </summary>
    private async Task EveryPathAsync(IEnumerable<(string Path, Func<AccountCase, Task<Attempt?>> Prepare)> paths, AccountCase c)
    {
        var expected = c.Code == StatusCode.OK ? Outcome.Accepted : new Outcome(c.Code, c.Reason, "");
        var divergences = new List<string>();
        var ran = 0;
        foreach (var (path, prepare) in paths)
        {
            if (await prepare(c) is not { } attempt) continue;
            ran++;
            var named = expected with { AccountId = expected.Code == StatusCode.OK ? "" : attempt.Subject };
            var head = await HeadAsync();
            var before = await ReadAccountAsync(attempt.Subject, head);
            var stream = await StreamLengthAsync(attempt.Subject);

            var outcome = await attempt.Run();

            var after = await ReadAccountAsync(attempt.Subject, await HeadAsync());
            var problems = new List<string>();
            if (outcome != named) problems.Add($"answered {outcome}, expected {named}");
            if (outcome.Code != StatusCode.OK)
            {
                // A declined order is recorded (the order alone); every other refusal writes nothing at all.
                if (!attempt.WritesOrderWhenDeclined && await HeadAsync() != head) problems.Add("a refusal wrote to the store");
                if (await StreamLengthAsync(attempt.Subject) != stream) problems.Add("a refusal wrote to the account");
                if (!Equals(before, after)) problems.Add($"the read side changed: {before} -> {after}");
                problems.AddRange(await UntouchedAsync(attempt, head));
            }
            else if (Effect(before, after, attempt.Moved) is { } wrong) problems.Add(wrong);
            if (problems.Count > 0) divergences.Add($"{path}: {string.Join("; ", problems)}");
        }
        Assert.True(ran > 1, "fewer than two paths apply to this case");
        Assert.True(divergences.Count == 0, $"case '{c.Name}' diverges:\n" + string.Join("\n", divergences));
    }

    /// <summary>What a refused path leaves behind besides the account: the payment still COMPLETED, the order AUTHORIZED, the hold active and releasable.</summary>
    private async Task<IEnumerable<string>> UntouchedAsync(Attempt attempt, long head)
    {
        var problems = new List<string>();
        if (attempt.Payment is { } paymentId)
        {
            var payment = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId, MinPosition = head })).Payment;
            if (payment.Status != PaymentStatus.Completed) problems.Add($"the payment is {payment.Status}, not COMPLETED");
        }
        if (attempt.Order is { } orderId)
        {
            var order = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = orderId, MinPosition = head })).Order;
            if (order.Status != OrderStatus.Authorized) problems.Add($"the order is {order.Status}, not AUTHORIZED");
            // The order stays cancellable: its hold is released whatever the account's state.
            var cancelled = await AnswerOf(() => Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = orderId, Reason = "refused" }).ResponseAsync);
            if (cancelled != Outcome.Accepted) problems.Add($"the order could not be cancelled: {cancelled}");
        }
        if (attempt.Hold is { } holdId)
        {
            var released = await AnswerOf(() => Bank.Accounts.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = attempt.Subject, HoldId = holdId }).ResponseAsync);
            if (released != Outcome.Accepted) problems.Add($"the hold could not be released: {released}");
        }
        return problems;
    }

    /// <summary>Null when the account moved as an accepted path of this kind moves it; otherwise what is wrong.</summary>
    private static string? Effect(Account? before, Account? after, Moved moved)
    {
        if (before is null || after is null) return moved == Moved.Nothing ? null : "accepted, but the account does not exist";
        var (balance, held) = (after.BalanceMinor - before.BalanceMinor, after.HeldMinor - before.HeldMinor);
        var expected = moved switch
        {
            Moved.Debited => (-Amount, 0L),
            Moved.Credited => (Amount, 0L),
            Moved.Held => (0L, Amount),
            Moved.Captured => (-Amount, -Amount),
            _ => (0L, 0L),
        };
        return (balance, held) == expected ? null : $"accepted, but the balance moved {balance} and the held amount {held}, expected {expected}";
    }

    /// <summary>The account as the read side shows it once it has every event up to <paramref name="position"/>; null if there is none.</summary>
    private async Task<Account?> ReadAccountAsync(string id, long position)
    {
        try
        {
            return await Bank.AccountAsync(id, position);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<int> StreamLengthAsync(string id) =>
        (await Host.Get<IEventStore>().ReadStreamAsync($"account-{id}", 1, 100_000, CancellationToken.None)).Count;

    // ---- The paths' requests ----

    private static WithdrawMoneyRequest Withdrawal(string id, long amount = Amount) => new() { AccountId = id, AmountMinor = amount, CurrencyCode = "EUR" };

    private static DepositMoneyRequest Deposit(string id) => new() { AccountId = id, AmountMinor = Amount, CurrencyCode = "EUR" };

    private static TransferMoneyRequest TransferOf(string from, string to) => new() { FromAccountId = from, ToAccountId = to, AmountMinor = Amount, CurrencyCode = "EUR" };

    /// <summary>The command alone in an independent batch: its result's error, or OK.</summary>
    private async Task<Outcome> IndependentAsync(BatchCommand command)
    {
        var result = Assert.Single((await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { command } })).Results);
        return result.ResultCase == BatchResult.ResultOneofCase.Error ? Outcome.Of(result.Error) : Outcome.Accepted;
    }

    /// <summary>
    /// The command second in an atomic batch, after a deposit of 1 to <paramref name="other"/> that is fine on its own: a
    /// refusal must name index 1 and write neither.
    /// </summary>
    private async Task<Outcome> AtomicAsync(string other, BatchCommand command)
    {
        var deposit = new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = other, AmountMinor = 1, CurrencyCode = "EUR" } };
        try
        {
            await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands = { deposit, command } });
            return Outcome.Accepted;
        }
        catch (RpcException e)
        {
            var info = e.GetRpcStatus()?.GetDetail<ErrorInfo>();
            if (info?.Metadata.TryGetValue("index", out var index) != true || index != "1" || !e.Status.Detail.StartsWith("commands[1]: "))
                return new Outcome(e.StatusCode, "(not naming commands[1]) " + info?.Reason, "");
            return Outcome.Of(e);
        }
    }

    /// <summary>
    /// PlaceOrder's answer as the other paths': a decline is a normal reply carrying the reason, so it is told by that
    /// reason (the status it would have had is the single command's) and checked recorded on the order.
    /// </summary>
    private async Task<Outcome> PlaceOrderAsync(string customer, string merchant)
    {
        PlaceOrderResponse placed;
        try
        {
            placed = await Bank.Orders.PlaceOrderAsync(OrderOf(customer, merchant));
        }
        catch (RpcException e)
        {
            return Outcome.Of(e);
        }
        if (placed.Authorized) return Outcome.Accepted;
        var order = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId, MinPosition = placed.Position })).Order;
        if ((order.Status, order.CancellationReason) != (OrderStatus.Cancelled, placed.CancellationReason))
            return new Outcome(StatusCode.Unknown, $"declined {placed.CancellationReason} but the order is {order.Status} {order.CancellationReason}", "");
        return new Outcome(DeclinedCodes[placed.CancellationReason], placed.CancellationReason, customer);
    }

    /// <summary>The status each reason an order is declined for has on every other path (WireRejection's).</summary>
    private static readonly Dictionary<string, StatusCode> DeclinedCodes = new()
    {
        ["ACCOUNT_NOT_FOUND"] = StatusCode.NotFound, ["ACCOUNT_FROZEN"] = StatusCode.FailedPrecondition,
        ["ACCOUNT_CLOSED"] = StatusCode.FailedPrecondition, ["DEBITS_BLOCKED"] = StatusCode.FailedPrecondition,
        ["INSUFFICIENT_FUNDS"] = StatusCode.FailedPrecondition, ["CURRENCY_MISMATCH"] = StatusCode.FailedPrecondition,
    };

    private static PlaceOrderRequest OrderOf(string customer, string merchant) => new()
    {
        CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = Amount, CurrencyCode = "EUR", Description = "books",
        AuthorizationTtl = OneHour,
    };

    private async Task<PlaceOrderResponse> PlaceOrderOrFailAsync(string customer, string merchant)
    {
        var placed = await Bank.Orders.PlaceOrderAsync(OrderOf(customer, merchant));
        Assert.True(placed.Authorized, $"the order was declined: {placed.CancellationReason}");
        return placed;
    }
}

public sealed class EmbeddedRulePathSpecs : RulePathSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);
}

public sealed class PostgresRulePathSpecs(PostgresServer postgres) : RulePathSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);
}
