using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using Microsoft.Extensions.DependencyInjection;
using static GrpcBank.EndToEnd.Tests.Rpc;
using DomainAccount = GrpcBank.Domain.Accounts.Account;
using DomainAccountEvent = GrpcBank.Domain.Accounts.AccountEvent;
using DomainAccountStatus = GrpcBank.Domain.Accounts.AccountStatus;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// An account's lifecycle while it has obligations, and the admin commands that change its standing (freeze, unfreeze,
/// restrict, lift, overdraft limit, close): closing waits for every obligation the account can see (its balance, its
/// holds, an order's authorisation), and every later action on what stays open elsewhere (a merchant's order, a refund,
/// a saga payment's return) is answered with the account's reason, never strands money; the admin commands are
/// idempotent, a no-op is accepted without an event, and racing money moves are ordered around them; the read side is the
/// fold of the stream after each.
/// </summary>
public abstract class AccountLifecycleSpecs : ClockedBankSpecs
{
    private const long Amount = 2_500;

    private static readonly Duration OneHour = Duration.FromTimeSpan(TimeSpan.FromHours(1));

    /// <summary>A server whose relay does not run: the spec delivers the outbox itself (ProcessRecoverySpecs' pump).</summary>
    protected abstract Task<BankHost> StartHandDrivenHostAsync();

    private AccountService.AccountServiceClient Accounts => Bank.Accounts;

    private Task<long> HeadAsync() => Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

    private async Task<IReadOnlyList<RecordedEvent>> StreamAsync(string accountId) =>
        await Host.Get<IEventStore>().ReadStreamAsync($"account-{accountId}", 1, 10_000, CancellationToken.None);

    private static async Task<(StatusCode Code, string Reason)> AnswerOf(Func<Task> call)
    {
        try
        {
            await call();
            return (StatusCode.OK, "");
        }
        catch (RpcException e)
        {
            return (e.StatusCode, e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason ?? "");
        }
    }

    /// <summary>Refused with the reason, and nothing written anywhere.</summary>
    private async Task RefusedWritingNothing(string reason, Func<Task> call)
    {
        var head = await HeadAsync();
        await Rejected(reason, call);
        Assert.Equal(head, await HeadAsync());
    }

    // ---- Closing with obligations ----

    [Fact]
    public async Task AnAccountWithABalanceOrAnActiveHold_IsNotClosed_UntilItIsSettled_AndEachRefusalWritesNothing()
    {
        var positive = await Bank.OpenAsync(deposit: 5_000);
        var overdrawn = await Bank.OpenAsync();
        await Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = overdrawn, LimitMinor = 2_000 });
        await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = overdrawn, AmountMinor = 1_000, CurrencyCode = "EUR" });
        var held = await Bank.OpenAsync(deposit: Amount);
        var hold = await Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = held, AmountMinor = Amount, CurrencyCode = "EUR", Ttl = OneHour });
        var customer = await Bank.OpenAsync(deposit: Amount);
        var merchant = await Bank.OpenAsync();
        var order = await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = Amount, CurrencyCode = "EUR", Description = "books",
            AuthorizationTtl = OneHour,
        });
        Assert.True(order.Authorized);

        await RefusedWritingNothing("BALANCE_NOT_ZERO", () => Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = positive }).ResponseAsync);
        await RefusedWritingNothing("BALANCE_NOT_ZERO", () => Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = overdrawn }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_HAS_HOLDS", () => Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = held }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_HAS_HOLDS", () => Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = customer }).ResponseAsync);
        foreach (var id in new[] { positive, overdrawn, held, customer })
            Assert.Equal(AccountStatus.Active, (await Bank.AccountAsync(id, await HeadAsync())).Status);

        // Settled, each closes: the hold expired by the bank (the order's too, which cancels the order), the money taken out.
        // (A hold whose time is up is held until the bank records its expiry, as the Domain decides a close on recorded
        // events alone: AccountSpecs.GivenAccountWithHold_WhenClose_ThenAccountHasHolds. Asked here, the close raced the
        // server's own expiry, which the clock's advance sets off.)
        Clock.Advance(TimeSpan.FromHours(2));
        while (await Host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None) > 0) { }
        var expired = await Bank.EventuallyAsync(async () =>
        {
            var o = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = order.OrderId })).Order;
            return o.Status == OrderStatus.Authorized ? null : o;
        });
        Assert.Equal((OrderStatus.Cancelled, "AUTHORIZATION_EXPIRED"), (expired.Status, expired.CancellationReason));
        await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = positive, AmountMinor = 5_000, CurrencyCode = "EUR" });
        await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = overdrawn, AmountMinor = 1_000, CurrencyCode = "EUR" });
        await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = held, AmountMinor = Amount, CurrencyCode = "EUR" });
        await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = customer, AmountMinor = Amount, CurrencyCode = "EUR" });
        foreach (var id in new[] { positive, overdrawn, held, customer })
        {
            var closed = await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = id });
            var account = await Bank.AccountAsync(id, closed.Position);
            Assert.Equal((AccountStatus.Closed, 0L, 0L), (account.Status, account.BalanceMinor, account.HeldMinor));
        }
        await Rejected("HOLD_NOT_ACTIVE", () => Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = held, HoldId = hold.HoldId }).ResponseAsync);
    }

    [Fact]
    public async Task AMerchantClosedWhileItsOrderIsAuthorized_RefusesTheFulfilment_AndTheOrderStillCancelsFreeingTheCustomersMoney()
    {
        var customer = await Bank.OpenAsync(deposit: 5_000);
        var merchant = await Bank.OpenAsync();
        var order = await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = Amount, CurrencyCode = "EUR", Description = "books",
            AuthorizationTtl = OneHour,
        });
        Assert.True(order.Authorized);

        // The merchant owes nothing and holds nothing: its close is accepted; the order's payment is judged at fulfilment.
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = merchant });
        await RefusedWritingNothing("ACCOUNT_CLOSED", () => Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId }).ResponseAsync);
        var stillAuthorized = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = order.OrderId, MinPosition = await HeadAsync() })).Order;
        Assert.Equal(OrderStatus.Authorized, stillAuthorized.Status);

        var cancelled = await Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = order.OrderId, Reason = "shop closed" });
        var after = await Bank.AccountAsync(customer, cancelled.Position);
        Assert.Equal((5_000L, 0L, 5_000L), (after.BalanceMinor, after.HeldMinor, after.AvailableMinor));
        Assert.Equal(OrderStatus.Cancelled, (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = order.OrderId, MinPosition = cancelled.Position })).Order.Status);
    }

    [Fact]
    public async Task ARefundIntoOrOutOfAClosedAccount_IsRefusedAccountClosed_WritesNothing_AndThePaymentStaysCompleted()
    {
        var payer = await Bank.OpenAsync(deposit: Amount);
        var payee = await Bank.OpenAsync();
        var other = await Bank.OpenAsync(deposit: Amount);
        var toPayee = await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            FromAccountId = payer, ToAccountId = payee, AmountMinor = Amount, CurrencyCode = "EUR",
        });
        var fromOther = await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            FromAccountId = other, ToAccountId = payee, AmountMinor = Amount, CurrencyCode = "EUR",
        });
        // The payer spent everything and closed: the refund has nowhere to go.
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = payer });
        var refusedIn = await Fails(StatusCode.FailedPrecondition,
            () => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = toPayee.PaymentId }).ResponseAsync);
        var info = refusedIn.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal(("ACCOUNT_CLOSED", payer), (info.Reason, info.Metadata["account_id"]));

        // The payee paid it all out and closed: the refund has nothing to take.
        await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = payee, AmountMinor = 2 * Amount, CurrencyCode = "EUR" });
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = payee });
        var head = await HeadAsync();
        var refusedOut = await Fails(StatusCode.FailedPrecondition,
            () => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = fromOther.PaymentId }).ResponseAsync);
        info = refusedOut.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal(("ACCOUNT_CLOSED", payee), (info.Reason, info.Metadata["account_id"]));
        Assert.Equal(head, await HeadAsync());

        foreach (var paymentId in new[] { toPayee.PaymentId, fromOther.PaymentId })
            Assert.Equal(PaymentStatus.Completed,
                (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId, MinPosition = head })).Payment.Status);
    }

    /// <summary>
    /// A saga payment the upgrade caught in flight, whose payee was closed meanwhile: the payee refuses the credit, so the
    /// saga gives the payer its money back. A credit block on the payer placed since must not strand that money in flight:
    /// the process does not try a refused step again and no command moves money out of a payment (the defect was that
    /// the compensation was refused with CREDITS_BLOCKED and the payment stayed compensating for good, 2,500 in flight).
    /// </summary>
    [Fact]
    public async Task ASagaPaymentsCompensation_ReachesAPayerWhoseCreditsWereBlockedMeanwhile_SoNoMoneyStaysInFlight()
    {
        await using var host = await StartHandDrivenHostAsync();
        var bank = new Bank(host);
        var payer = await bank.OpenAsync(deposit: 10_000);
        var payee = await bank.OpenAsync();
        await bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = payee });
        await bank.Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = payer, BlockCredits = true, Reason = "sanctions review" });
        var paymentId = await ProcessRecoverySpecs.SagaPaymentInFlightAsync(host, payer, payee, Amount);

        await ProcessRecoverySpecs.PumpWithCrashAsync(host, cut: -1, beforeCompleting: false, async () =>
            (await ProcessRecoverySpecs.TypesAsync(host, $"payment-{paymentId}"))[^1] == "payments.PaymentFailed.v2");

        var head = await host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        var payment = (await bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId, MinPosition = head })).Payment;
        Assert.Equal((PaymentStatus.Failed, "ACCOUNT_CLOSED"), (payment.Status, payment.FailureReason));
        var after = await bank.AccountAsync(payer, head);
        Assert.Equal((10_000L, true), (after.BalanceMinor, after.CreditsBlocked));
        // The block still stops new money in.
        await Rejected("CREDITS_BLOCKED",
            () => bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = payer, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
    }

    /// <summary>
    /// The same saga payment, but the payer was debited to nothing and closed before the payee refused: the payer's
    /// account cannot take its money back, and no rule may wave that through (a closed account takes nothing in). The
    /// refused return is not passed over in a log line (the defect: the money stayed in flight, seen nowhere but there):
    /// the event that called for it is a dead letter of the payment process, listed with the reason, and
    /// <c>RetryDeadLetters</c> hands it over again, keeping it while the refusal stands.
    /// </summary>
    [Fact]
    public async Task ASagaPaymentsReturnToAPayerClosedMeanwhile_IsADeadLetterOfThePaymentProcess_NotPassedOver()
    {
        await using var host = await StartHandDrivenHostAsync();
        var bank = new Bank(host);
        var payer = await bank.OpenAsync(deposit: Amount);
        var payee = await bank.OpenAsync();
        await bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = payee });
        var paymentId = await ProcessRecoverySpecs.SagaPaymentInFlightAsync(host, payer, payee, Amount);
        // Hand-driven up to the payer's debit, recorded on the payment (not yet delivered): the payer holds nothing now.
        var store = host.Get<IEventStore>();
        while ((await ProcessRecoverySpecs.TypesAsync(host, $"payment-{paymentId}"))[^1] != "payments.PayerDebited.v1")
        {
            var batch = await store.Outbox.ReadPendingAsync("test", 1, CancellationToken.None);
            foreach (var sink in host.Services.GetServices<IEventSink>())
                await sink.HandleAsync(batch.Events, batch.Watermark, CancellationToken.None);
            await store.Outbox.CompleteAsync("test", batch, CancellationToken.None);
        }
        await bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = payer });

        // The relay takes over: the payee refuses the credit, the payment records it, the payer's account refuses the return.
        await host.RestartAsync(("Relay:Enabled", "true"));
        var admin = new ProjectionService.ProjectionServiceClient(host.Channel);
        var letter = await Bank.EventuallyAsync(async () =>
            (await admin.ListDeadLettersAsync(new ListDeadLettersRequest())).DeadLetters.SingleOrDefault());
        Assert.Equal(("payment-process", $"payment-{paymentId}"), (letter.Consumer, letter.StreamId));
        Assert.StartsWith("payments.PayeeCreditFailed.", letter.EventType);
        Assert.Contains("ACCOUNT_CLOSED", letter.Error);

        var retry = await admin.RetryDeadLettersAsync(new RetryDeadLettersRequest { Positions = { letter.Position } });
        Assert.Equal((0, 1), (retry.Retried, retry.Remaining));
        var head = await host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        Assert.NotEqual(PaymentStatus.Failed,
            (await bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId, MinPosition = head })).Payment.Status);
        Assert.Equal(0, (await bank.AccountAsync(payer, head)).BalanceMinor);
    }

    // ---- Idempotency and no-ops of the admin commands ----

    [Fact]
    public async Task EachAdminCommandRetriedWithItsRequestId_GetsTheFirstReply_EvenAfterTheAccountMovedOn_AndTheIdOnAnotherRequestIsReused()
    {
        var id = await Bank.OpenAsync();
        var other = await Bank.OpenAsync();
        string Rid() => Rpc.NewId();
        var calls = new List<(string Name, Func<Task<object>> Send, Func<Task> SendOther)>();
        void Add<TReq, TRes>(string name, TReq request, Func<TReq, Task<TRes>> send, Func<TReq, TReq> otherRequest) where TRes : class =>
            calls.Add((name, async () => await send(request), () => send(otherRequest(request))));

        Add("set limit", new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 1_000, RequestId = Rid() },
            r => Accounts.SetOverdraftLimitAsync(r).ResponseAsync, r => new(r) { LimitMinor = 2_000 });
        Add("freeze", new FreezeAccountRequest { AccountId = id, Reason = "audit", RequestId = Rid() },
            r => Accounts.FreezeAccountAsync(r).ResponseAsync, r => new(r) { Reason = "another audit" });
        Add("unfreeze", new UnfreezeAccountRequest { AccountId = id, RequestId = Rid() },
            r => Accounts.UnfreezeAccountAsync(r).ResponseAsync, r => new(r) { AccountId = other });
        Add("restrict", new RestrictAccountRequest { AccountId = id, BlockDebits = true, Reason = "court order", RequestId = Rid() },
            r => Accounts.RestrictAccountAsync(r).ResponseAsync, r => new(r) { BlockCredits = true });
        Add("lift", new LiftRestrictionRequest { AccountId = id, RequestId = Rid() },
            r => Accounts.LiftRestrictionAsync(r).ResponseAsync, r => new(r) { AccountId = other });
        Add("set limit back", new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 0, RequestId = Rid() },
            r => Accounts.SetOverdraftLimitAsync(r).ResponseAsync, r => new(r) { AccountId = other });
        Add("close", new CloseAccountRequest { AccountId = id, RequestId = Rid() },
            r => Accounts.CloseAccountAsync(r).ResponseAsync, r => new(r) { AccountId = other });

        var first = new List<object>();
        foreach (var call in calls) first.Add(await call.Send());
        var stream = (await StreamAsync(id)).Count;
        Assert.Equal(1 + calls.Count, stream); // opened, then one event each

        var head = await HeadAsync();
        for (var i = 0; i < calls.Count; i++)
        {
            Assert.True(first[i].Equals(await calls[i].Send()), $"{calls[i].Name}: the retry answered otherwise");
            await Rejected("REQUEST_ID_REUSED", calls[i].SendOther);
        }
        Assert.Equal(head, await HeadAsync());
        Assert.Equal(AccountStatus.Active, (await Bank.AccountAsync(other, head)).Status);
    }

    [Fact]
    public async Task AnAdminCommandThatChangesNothing_IsAcceptedWithoutAnEvent_AtTheStreamsVersion_AndOnAClosedAccountEachIsAccountClosed()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);
        await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "audit" });
        await Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id });
        await Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockCredits = true, Reason = "court order" });
        await Accounts.LiftRestrictionAsync(new LiftRestrictionRequest { AccountId = id });
        await Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 500 });

        // Its reply is the stream's version and last position: a read with that min_position shows the account as it is.
        async Task NoOp(string name, Func<Task<(long Version, long Position)>> send)
        {
            var (head, stream) = (await HeadAsync(), await StreamAsync(id));
            var (version, position) = await send();
            Assert.Equal((name, (long)stream.Count, stream[^1].Position), (name, version, position));
            Assert.True(head == await HeadAsync(), $"{name}: wrote an event");
        }
        await NoOp("unfreeze an active account", async () =>
        {
            var r = await Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id });
            return (r.Version, r.Position);
        });
        await NoOp("lift no restriction", async () =>
        {
            var r = await Accounts.LiftRestrictionAsync(new LiftRestrictionRequest { AccountId = id });
            return (r.Version, r.Position);
        });
        await NoOp("set the same limit", async () =>
        {
            var r = await Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 500 });
            return (r.Version, r.Position);
        });
        await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "audit" });
        await NoOp("freeze a frozen account", async () =>
        {
            var r = await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "another reason" });
            return (r.Version, r.Position);
        });
        await Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockDebits = true, Reason = "court order" });
        await NoOp("restrict as restricted", async () =>
        {
            var r = await Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockDebits = true, Reason = "court order" });
            return (r.Version, r.Position);
        });

        // Closed for good: every admin command is told so, closing again too, and none writes.
        var closing = await Bank.OpenAsync();
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = closing });
        await RefusedWritingNothing("ACCOUNT_CLOSED", () => Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = closing }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_CLOSED", () => Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = closing, Reason = "x" }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_CLOSED", () => Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = closing }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_CLOSED", () =>
            Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = closing, BlockDebits = true, Reason = "x" }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_CLOSED", () => Accounts.LiftRestrictionAsync(new LiftRestrictionRequest { AccountId = closing }).ResponseAsync);
        await RefusedWritingNothing("ACCOUNT_CLOSED", () =>
            Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = closing, LimitMinor = 0 }).ResponseAsync);
    }

    // ---- Races ----

    /// <summary>The calls at once, started in an order turned by the round (each goes first in some), answered in theirs.</summary>
    private static Task<(StatusCode Code, string Reason)[]> RaceAsync(int round, params Func<Task>[] calls)
    {
        var answers = new Task<(StatusCode, string)>[calls.Length];
        foreach (var i in Enumerable.Range(0, calls.Length).Select(k => (k + round) % calls.Length)) answers[i] = AnswerOf(calls[i]);
        return Task.WhenAll(answers);
    }

    /// <summary>
    /// Twenty rounds of a freeze racing a withdrawal, a transfer out and a capture: each move committed before the freeze
    /// or was refused ACCOUNT_FROZEN; no debit is ever recorded after the freeze on the account's stream.
    /// </summary>
    [Fact]
    public async Task AFreezeRacingMoneyOut_ComesAfterEachDebitOrRefusesIt_TwentyRounds()
    {
        var payee = await Bank.OpenAsync();
        string[] debits = ["accounts.MoneyWithdrawn.v1", "accounts.PaymentDebited.v2", "accounts.HoldCaptured.v1"];
        var debitedBeforeTheFreeze = 0;
        for (var round = 0; round < 20; round++)
        {
            var id = await Bank.OpenAsync(deposit: 10_000);
            var hold = await Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = id, AmountMinor = 1_000, CurrencyCode = "EUR", Ttl = OneHour });
            var answers = await RaceAsync(round,
                () => Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "fraud" }).ResponseAsync,
                () => Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 1_000, CurrencyCode = "EUR" }).ResponseAsync,
                () => Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
                {
                    FromAccountId = id, ToAccountId = payee, AmountMinor = 1_000, CurrencyCode = "EUR",
                }).ResponseAsync,
                () => Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = id, HoldId = hold.HoldId }).ResponseAsync);

            Assert.Equal((StatusCode.OK, ""), answers[0]);
            Assert.All(answers[1..], a => Assert.Contains(a, new[] { (StatusCode.OK, ""), (StatusCode.FailedPrecondition, "ACCOUNT_FROZEN") }));
            var stream = await StreamAsync(id);
            var frozenAt = stream.Single(e => e.EventType == "accounts.AccountFrozen.v1").StreamVersion;
            var debited = stream.Where(e => debits.Contains(e.EventType)).ToList();
            Assert.All(debited, e => Assert.True(e.StreamVersion < frozenAt, $"round {round}: {e.EventType} at {e.StreamVersion}, after the freeze at {frozenAt}"));
            Assert.Equal(answers[1..].Count(a => a.Item1 == StatusCode.OK), debited.Count);
            debitedBeforeTheFreeze += debited.Count;
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{debitedBeforeTheFreeze} of 60 debits came before the freeze");
    }

    /// <summary>
    /// Twenty rounds of a close racing a deposit, a transfer in and a hold on the overdraft: the close comes first and the
    /// rest are refused ACCOUNT_CLOSED, or it is refused for what came before it; nothing is ever recorded after a close.
    /// </summary>
    [Fact]
    public async Task ACloseRacingMoneyInAndAHold_EitherClosesFirstRefusingThemAll_OrIsRefusedForWhatCameFirst_TwentyRounds()
    {
        var payer = await Bank.OpenAsync(deposit: 1_000_000);
        string[] obligations = ["accounts.MoneyDeposited.v1", "accounts.PaymentCredited.v2", "accounts.HoldPlaced.v1"];
        var closedFirst = 0;
        for (var round = 0; round < 20; round++)
        {
            var id = await Bank.OpenAsync();
            await Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 1_000 });
            var answers = await RaceAsync(round,
                () => Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = id }).ResponseAsync,
                () => Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 100, CurrencyCode = "EUR" }).ResponseAsync,
                () => Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
                {
                    FromAccountId = payer, ToAccountId = id, AmountMinor = 100, CurrencyCode = "EUR",
                }).ResponseAsync,
                () => Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = id, AmountMinor = 500, CurrencyCode = "EUR", Ttl = OneHour }).ResponseAsync);

            var stream = await StreamAsync(id);
            if (stream[^1].EventType == "accounts.AccountClosed.v1")
            {
                closedFirst++;
                Assert.Equal((StatusCode.OK, ""), answers[0]);
                Assert.All(answers[1..], a => Assert.Equal((StatusCode.FailedPrecondition, "ACCOUNT_CLOSED"), a));
            }
            else
            {
                Assert.DoesNotContain(stream, e => e.EventType == "accounts.AccountClosed.v1");
                Assert.Contains(answers[0], new[] { (StatusCode.FailedPrecondition, "BALANCE_NOT_ZERO"), (StatusCode.FailedPrecondition, "ACCOUNT_HAS_HOLDS") });
                Assert.All(answers[1..], a => Assert.Equal((StatusCode.OK, ""), a));
            }
            Assert.Equal(answers[1..].Count(a => a.Item1 == StatusCode.OK), stream.Count(e => obligations.Contains(e.EventType)));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"closed first in {closedFirst} of 20 rounds");
    }

    [Fact]
    public async Task FreezesAndUnfreezesSentAtOnce_LeaveTheStatusOfTheLastCommittedOne_AndTheReadSideIsTheFold()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);
        for (var round = 0; round < 5; round++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => i % 2 == 0
                ? AnswerOf(() => Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = $"check {i}" }).ResponseAsync)
                : AnswerOf(() => Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id }).ResponseAsync)));

            Assert.All(answers, a => Assert.Equal((StatusCode.OK, ""), a));
            var stream = await StreamAsync(id);
            var last = stream.Last(e => e.EventType is "accounts.AccountFrozen.v1" or "accounts.AccountUnfrozen.v1");
            var expected = last.EventType == "accounts.AccountFrozen.v1" ? AccountStatus.Frozen : AccountStatus.Active;
            Assert.Equal(expected, (await Bank.AccountAsync(id, stream[^1].Position)).Status);
            await ShowsTheFoldAsync(id);
            // Status events alternate: a freeze of a frozen account (or the reverse) wrote nothing.
            var toggles = stream.Select(e => e.EventType).Where(t => t is "accounts.AccountFrozen.v1" or "accounts.AccountUnfrozen.v1").ToList();
            Assert.All(toggles.Zip(toggles.Skip(1)), pair => Assert.NotEqual(pair.Item1, pair.Item2));
        }
    }

    // ---- The read side ----

    [Fact]
    public async Task AfterEachAdminCommand_GetAccountIsTheFoldOfTheStream_AndSearchFiltersByStatus()
    {
        var id = await Bank.OpenAsync(deposit: 5_000);
        var frozen = await Bank.OpenAsync();
        var closed = await Bank.OpenAsync();
        await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = frozen, Reason = "audit" });
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = closed });

        Func<Task>[] steps =
        [
            () => Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 3_000 }).ResponseAsync,
            () => Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = id, AmountMinor = 7_000, CurrencyCode = "EUR", Ttl = OneHour }).ResponseAsync,
            () => Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockCredits = true, Reason = "sanctions" }).ResponseAsync,
            () => Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockCredits = true, BlockDebits = true, Reason = "court" }).ResponseAsync,
            () => Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "fraud" }).ResponseAsync,
            () => Accounts.LiftRestrictionAsync(new LiftRestrictionRequest { AccountId = id }).ResponseAsync,
            () => Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id }).ResponseAsync,
        ];
        await ShowsTheFoldAsync(id);
        foreach (var step in steps)
        {
            await step();
            await ShowsTheFoldAsync(id);
        }
        // Lowering the limit below what the hold draws is refused, and the view keeps the limit.
        await RefusedWritingNothing("OVERDRAFT_IN_USE",
            () => Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 1_000 }).ResponseAsync);
        await ShowsTheFoldAsync(id);

        var head = await HeadAsync();
        async Task<IEnumerable<string>> WithStatus(AccountStatus status) =>
            (await Bank.Query.SearchAccountsAsync(new SearchAccountsRequest { Status = status, MinPosition = head })).Accounts.Select(a => a.AccountId);
        Assert.Equal([id], await WithStatus(AccountStatus.Active));
        Assert.Equal([frozen], await WithStatus(AccountStatus.Frozen));
        Assert.Equal([closed], await WithStatus(AccountStatus.Closed));
        Assert.Equal(3, (await Bank.Query.SearchAccountsAsync(new SearchAccountsRequest { MinPosition = head })).Accounts.Count);
    }

    /// <summary>GetAccount, read at the stream's last position, shows what the fold of the stream says.</summary>
    private async Task ShowsTheFoldAsync(string id)
    {
        var stream = await StreamAsync(id);
        var state = DomainAccount.Decider.Fold(stream.Select(e => (DomainAccountEvent)EventCodecs.Decode(e)!));
        var shown = await Bank.AccountAsync(id, stream[^1].Position);
        var status = state.Status switch
        {
            DomainAccountStatus.Active => AccountStatus.Active,
            DomainAccountStatus.Frozen => AccountStatus.Frozen,
            DomainAccountStatus.Closed => AccountStatus.Closed,
            _ => AccountStatus.Unspecified,
        };
        Assert.Equal(
            (status, state.BalanceMinor, state.HeldMinor, state.AvailableMinor, state.OverdraftLimitMinor, state.DebitsBlocked, state.CreditsBlocked, (long)stream.Count),
            (shown.Status, shown.BalanceMinor, shown.HeldMinor, shown.AvailableMinor, shown.OverdraftLimitMinor, shown.DebitsBlocked, shown.CreditsBlocked, shown.Version));
    }
}

public sealed class EmbeddedAccountLifecycleSpecs : AccountLifecycleSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);

    protected override Task<BankHost> StartHandDrivenHostAsync() => BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
}

public sealed class PostgresAccountLifecycleSpecs(PostgresServer postgres) : AccountLifecycleSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);

    protected override async Task<BankHost> StartHandDrivenHostAsync() =>
        await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), ("Relay:Enabled", "false"));
}
