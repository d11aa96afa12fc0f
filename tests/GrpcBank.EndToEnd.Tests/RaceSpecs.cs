using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Commands that race each other on one server, through real gRPC clients on several channels at once: the same request
/// id sent concurrently, conflicting commands on one account, payment or order. Each race is run many times over, its
/// callers released together, and every caller's answer is checked against the others' and against the stored history.
/// </summary>
public abstract class RaceSpecs : BankSpecs
{
    /// <summary>The server's log: a call the bank answers as a fault of its own logs an error, even when its caller has gone.</summary>
    protected CapturedLogs Logs { get; } = new();

    /// <summary>The server's clock: holds expire when a spec moves it.</summary>
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    protected void Configure(Microsoft.AspNetCore.Builder.WebApplicationBuilder builder)
    {
        builder.Logging.AddProvider(Logs);
        builder.Services.AddSingleton<TimeProvider>(Clock);
    }

    private const int Rounds = 25;

    private static readonly Duration OneHour = Duration.FromTimeSpan(TimeSpan.FromHours(1));

    /// <summary>A reply, or the status a call failed with (never thrown here: each race judges all of its answers).</summary>
    private sealed record Answer(IMessage? Reply, RpcException? Error)
    {
        public bool Ok => Reply is not null;
        public string Reason => Error?.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason ?? "";
        public override string ToString() => Ok ? Reply!.ToString() ?? "" : $"{Error!.StatusCode} {Reason}: {Error.Status.Detail}";
    }

    /// <summary>Runs the calls at once (released together, each continuing on a pool thread of its own), and gathers every answer.</summary>
    private static async Task<Answer[]> AtOnceAsync(params Func<Task<IMessage>>[] calls)
    {
        // Not a Barrier: hundreds of callers blocking pool threads starve the pool (it adds about a thread a second).
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = calls.Select(call => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                return new Answer(await call(), null);
            }
            catch (RpcException e)
            {
                return new Answer(null, e);
            }
        }));
        var started = tasks.ToList();
        start.SetResult();
        return await Task.WhenAll(started);
    }

    private GrpcChannel[] Channels(int count) => [.. Enumerable.Range(0, count).Select(_ => GrpcChannel.ForAddress(Host.GrpcUrl))];

    private async Task<IReadOnlyList<RecordedEvent>> EventsAsync(string streamId) =>
        await Host.Get<IEventStore>().ReadStreamAsync(streamId, 1, 10_000, CancellationToken.None);

    private static void NoFaults(IEnumerable<Answer> answers)
    {
        foreach (var a in answers)
            Assert.False(a.Error?.StatusCode is StatusCode.Unknown or StatusCode.Internal or StatusCode.Unavailable, $"a fault: {a}");
    }

    /// <summary>The accounts as the read side shows them once it has every stored event of theirs, each stream's versions checked contiguous.</summary>
    private async Task<IReadOnlyList<GrpcBank.Contracts.Query.V1.Account>> StoredAccountsAsync(IEnumerable<string> accounts)
    {
        var events = new List<RecordedEvent>();
        foreach (var account in accounts)
        {
            var stream = await EventsAsync($"account-{account}");
            Contiguous(stream);
            events.AddRange(stream);
        }
        var at = events.Max(e => e.Position);
        var views = new List<GrpcBank.Contracts.Query.V1.Account>();
        foreach (var account in accounts) views.Add(await Bank.AccountAsync(account, at));
        return views;
    }

    /// <summary>The events of a stream have versions 1..n, each once.</summary>
    private static void Contiguous(IReadOnlyList<RecordedEvent> events) =>
        Assert.Equal(Enumerable.Range(1, events.Count).Select(v => (long)v), events.Select(e => e.StreamVersion));

    [Fact]
    public async Task OneRequestId_SentAtOnceOverManyChannels_IsWrittenOnce_AndEveryCallerGetsTheSameReply()
    {
        var account = await Bank.OpenAsync();
        var channels = Channels(4);
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                var request = new DepositMoneyRequest { AccountId = account, AmountMinor = 100, CurrencyCode = "EUR", RequestId = Rpc.NewId() };
                var answers = await AtOnceAsync([.. Enumerable.Range(0, 8).Select(i => (Func<Task<IMessage>>)(async () =>
                    await new AccountService.AccountServiceClient(channels[i % channels.Length]).DepositMoneyAsync(request)))]);
                NoFaults(answers);
                Assert.All(answers, a => Assert.True(a.Ok, a.ToString()));
                Assert.Single(answers.Select(a => a.Reply).Distinct());
                Assert.Equal((round + 1) * 100L, ((DepositMoneyResponse)answers[0].Reply!).BalanceMinor);
            }
            var events = await EventsAsync($"account-{account}");
            Contiguous(events);
            Assert.Equal(Rounds + 1, events.Count);
        }
        finally
        {
            foreach (var c in channels) c.Dispose();
        }
    }

    [Fact]
    public async Task RetriesOfCommandsWhoseIdTheServerAssigns_SentAtOnce_AllGetTheFirstAssignedId()
    {
        var (from, to) = (await Bank.OpenAsync(deposit: 1_000_000), await Bank.OpenAsync());
        var channels = Channels(3);
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                var (open, hold, transfer) = (
                    new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR", RequestId = Rpc.NewId() },
                    new PlaceHoldRequest { AccountId = from, AmountMinor = 1, CurrencyCode = "EUR", Reference = "r", Ttl = OneHour, RequestId = Rpc.NewId() },
                    new TransferMoneyRequest { FromAccountId = from, ToAccountId = to, AmountMinor = 2, CurrencyCode = "EUR", RequestId = Rpc.NewId() });
                var answers = await AtOnceAsync([.. Enumerable.Range(0, 9).Select(i => ((i % 3) switch
                {
                    0 => (Func<Task<IMessage>>)(async () => await new AccountService.AccountServiceClient(channels[i / 3]).OpenAccountAsync(open)),
                    1 => async () => await new AccountService.AccountServiceClient(channels[i / 3]).PlaceHoldAsync(hold),
                    _ => async () => await new PaymentService.PaymentServiceClient(channels[i / 3]).TransferMoneyAsync(transfer),
                }))]);
                NoFaults(answers);
                Assert.All(answers, a => Assert.True(a.Ok, a.ToString()));
                for (var kind = 0; kind < 3; kind++) Assert.Single(answers.Where((_, i) => i % 3 == kind).Select(a => a.Reply).Distinct());
            }
            var payer = await EventsAsync($"account-{from}");
            Contiguous(payer);
            Assert.Equal(2 + 2 * Rounds, payer.Count);
        }
        finally
        {
            foreach (var c in channels) c.Dispose();
        }
    }

    [Fact]
    public async Task ATransferAndADepositSharingARequestId_AtOnce_OneIsWritten_TheOtherIsRefusedAsReused()
    {
        var (from, to) = (await Bank.OpenAsync(deposit: 1_000_000), await Bank.OpenAsync());
        for (var round = 0; round < Rounds; round++)
        {
            var id = Rpc.NewId();
            var answers = await AtOnceAsync(
                async () => await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
                    { FromAccountId = from, ToAccountId = to, AmountMinor = 10, CurrencyCode = "EUR", RequestId = id }),
                async () => await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = from, AmountMinor = 7, CurrencyCode = "EUR", RequestId = id }));
            NoFaults(answers);
            Assert.Single(answers, a => a.Ok);
            Assert.Single(answers, a => a.Reason == "REQUEST_ID_REUSED");
        }
        Contiguous(await EventsAsync($"account-{from}"));
        Contiguous(await EventsAsync($"account-{to}"));
    }

    [Fact]
    public async Task ASingleDepositAndTheSameInBatches_AtOnce_AreWrittenOnce_AndAnsweredAlike()
    {
        var account = await Bank.OpenAsync();
        var batches = new BatchService.BatchServiceClient(Host.Channel);
        for (var round = 0; round < Rounds; round++)
        {
            var deposit = new DepositMoneyRequest { AccountId = account, AmountMinor = 100, CurrencyCode = "EUR", RequestId = Rpc.NewId() };
            var answers = await AtOnceAsync(
                async () => await Bank.Accounts.DepositMoneyAsync(deposit),
                async () => (await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { new BatchCommand { Deposit = deposit } } })).Results[0].Deposit,
                async () => (await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands = { new BatchCommand { Deposit = deposit } } })).Results[0].Deposit);
            NoFaults(answers);
            Assert.All(answers, a => Assert.True(a.Ok, a.ToString()));
            Assert.Single(answers.Select(a => a.Reply).Distinct());
        }
        var events = await EventsAsync($"account-{account}");
        Contiguous(events);
        Assert.Equal(Rounds + 1, events.Count);
    }

    [Fact]
    public async Task ABatchSentTwiceAtOnce_IsWrittenOnce_AndBothCallersGetTheSameResults()
    {
        var (from, to) = (await Bank.OpenAsync(deposit: 1_000_000), await Bank.OpenAsync());
        var batches = new BatchService.BatchServiceClient(Host.Channel);
        for (var round = 0; round < Rounds; round++)
        {
            var request = new ExecuteBatchRequest
            {
                Atomic = round % 2 == 0,
                Commands =
                {
                    new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = from, AmountMinor = 10, CurrencyCode = "EUR", RequestId = Rpc.NewId() } },
                    new BatchCommand { Transfer = new TransferMoneyRequest { FromAccountId = from, ToAccountId = to, AmountMinor = 3, CurrencyCode = "EUR", RequestId = Rpc.NewId() } },
                    new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = to, AmountMinor = 1, CurrencyCode = "EUR", RequestId = Rpc.NewId() } },
                },
            };
            var answers = await AtOnceAsync(async () => await batches.ExecuteBatchAsync(request), async () => await batches.ExecuteBatchAsync(request));
            NoFaults(answers);
            Assert.All(answers, a => Assert.True(a.Ok, a.ToString()));
            Assert.All(((ExecuteBatchResponse)answers[0].Reply!).Results, r => Assert.Null(r.Error));
            Assert.Equal(answers[0].Reply, answers[1].Reply);
        }
        var (payer, payee) = (await EventsAsync($"account-{from}"), await EventsAsync($"account-{to}"));
        Contiguous(payer);
        Contiguous(payee);
        Assert.Equal((2 + 2 * Rounds, 1 + 2 * Rounds), (payer.Count, payee.Count));
    }

    /// <summary>
    /// A placement reads its merchant's account without that account's lock (it does not write it). After a restart the
    /// account is cold, so that read goes to the store, and it ended while deposits to the account, under the lock, had
    /// cached their unsettled appends: it put back the older fold, the next deposit decided on it, lost its append's guard
    /// to its own server's deposit, was read and appended again, and woke the following of other servers' appends
    /// (<see cref="GrpcBank.Application.Commands.OtherWriters"/>) on a server that has none.
    /// </summary>
    [Fact]
    public async Task DepositsToAColdAccount_RacingOrdersThatReadItAsTheirMerchant_NeverLoseARaceToTheirOwnServer()
    {
        var customer = await Bank.OpenAsync(deposit: 1_000_000);
        var merchants = new List<string>();
        for (var i = 0; i < 40; i++) merchants.Add(await Bank.OpenAsync());
        await Host.RestartAsync();
        // The customer's fold warm again (a placement takes an account it does not hold as new, and learns otherwise by losing a race).
        await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = customer, AmountMinor = 1, CurrencyCode = "EUR" });
        var others = Host.Get<GrpcBank.Application.Commands.Handlers>().OtherWriters;
        foreach (var merchant in merchants)
        {
            var answers = await AtOnceAsync([
                .. Enumerable.Range(0, 3).Select(_ => (Func<Task<IMessage>>)(async () => await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
                    { CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 5, CurrencyCode = "EUR", Description = "x", AuthorizationTtl = OneHour }))),
                .. Enumerable.Range(0, 4).Select(_ => (Func<Task<IMessage>>)(async () => await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = merchant, AmountMinor = 1, CurrencyCode = "EUR" }))),
            ]);
            NoFaults(answers);
            Assert.All(answers, a => Assert.True(a.Ok, a.ToString()));
            Assert.False(others.Following, "a lone server lost an append's race to itself, and follows other servers' appends");
        }
        await Task.Delay(200);
        Assert.False(others.Following, "a lone server lost an append's race to itself, and follows other servers' appends");
        var events = await EventsAsync($"account-{merchants[^1]}");
        Contiguous(events);
        Assert.Equal(5, events.Count);
    }

    [Fact]
    public async Task RefundsOfOnePayment_AtOnce_RefundItOnce()
    {
        var (from, to) = (await Bank.OpenAsync(deposit: 1_000_000), await Bank.OpenAsync());
        for (var round = 0; round < Rounds; round++)
        {
            var payment = await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = from, ToAccountId = to, AmountMinor = 500, CurrencyCode = "EUR" });
            var sameId = Rpc.NewId();
            var answers = await AtOnceAsync(
                async () => await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = payment.PaymentId, Reason = "a" }),
                async () => await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = payment.PaymentId, Reason = "b" }),
                async () => await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = payment.PaymentId, Reason = "c", RequestId = sameId }),
                async () => await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = payment.PaymentId, Reason = "c", RequestId = sameId }));
            NoFaults(answers);
            var refunds = answers.Where(a => a.Ok).Select(a => a.Reply).Distinct().ToList();
            Assert.Single(refunds);
            Assert.All(answers.Where(a => !a.Ok), a => Assert.Equal("PAYMENT_NOT_REFUNDABLE", a.Reason));
        }
        var payer = await EventsAsync($"account-{from}");
        var payee = await EventsAsync($"account-{to}");
        Contiguous(payer);
        Contiguous(payee);
        Assert.Equal(1_000_000, (await Bank.AccountAsync(from, payer.Concat(payee).Max(e => e.Position))).BalanceMinor);
        Assert.Equal(0, (await Bank.AccountAsync(to, payer.Concat(payee).Max(e => e.Position))).BalanceMinor);
    }

    [Fact]
    public async Task ClosingAnAccount_WhileDepositsAndTransfersArrive_NeverLeavesMoneyInAClosedAccount()
    {
        var source = await Bank.OpenAsync(deposit: 1_000_000);
        for (var round = 0; round < Rounds; round++)
        {
            var account = await Bank.OpenAsync();
            var answers = await AtOnceAsync(
                async () => await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = account }),
                async () => await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = account, AmountMinor = 5, CurrencyCode = "EUR" }),
                async () => await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = source, ToAccountId = account, AmountMinor = 3, CurrencyCode = "EUR" }));
            NoFaults(answers);
            var events = await EventsAsync($"account-{account}");
            Contiguous(events);
            var closed = events.Any(e => e.EventType.Contains("AccountClosed"));
            Assert.Equal(answers[0].Ok, closed);
            if (closed)
            {
                Assert.EndsWith("AccountClosed.v1", events[^1].EventType);
                Assert.False(answers[1].Ok || answers[2].Ok, string.Join(" | ", answers.Select(a => a.ToString())));
            }
        }
    }

    [Fact]
    public async Task CaptureAndReleaseOfOneHold_AtOnce_ResolveItOnce()
    {
        var account = await Bank.OpenAsync(deposit: 1_000_000);
        for (var round = 0; round < Rounds; round++)
        {
            var hold = await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest
                { AccountId = account, AmountMinor = 100, CurrencyCode = "EUR", Reference = "r", Ttl = OneHour });
            var answers = await AtOnceAsync(
                async () => await Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = account, HoldId = hold.HoldId, AmountMinor = 60 }),
                async () => await Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = account, HoldId = hold.HoldId, AmountMinor = 100 }),
                async () => await Bank.Accounts.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = account, HoldId = hold.HoldId }));
            NoFaults(answers);
            Assert.Single(answers, a => a.Ok);
            Assert.All(answers.Where(a => !a.Ok), a => Assert.Equal("HOLD_NOT_ACTIVE", a.Reason));
        }
        Contiguous(await EventsAsync($"account-{account}"));
    }

    [Fact]
    public async Task FulfilmentAndCancellationOfOneOrder_AtOnce_SettleItOnce_AndConserveMoney()
    {
        var (customer, merchant) = (await Bank.OpenAsync(deposit: 1_000_000), await Bank.OpenAsync());
        var paid = 0L;
        for (var round = 0; round < Rounds; round++)
        {
            var order = await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
            {
                CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 100, CurrencyCode = "EUR", Description = "x",
                AuthorizationTtl = OneHour,
            });
            var answers = await AtOnceAsync(
                async () => await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId }),
                async () => await Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = order.OrderId, Reason = "changed my mind" }),
                async () => await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId }));
            NoFaults(answers);
            Assert.True(answers[1].Ok != (answers[0].Ok || answers[2].Ok), string.Join(" | ", answers.Select(a => a.ToString())));
            if (!answers[1].Ok) paid += 100;
        }
        var c = await EventsAsync($"account-{customer}");
        var m = await EventsAsync($"account-{merchant}");
        Contiguous(c);
        Contiguous(m);
        var at = c.Concat(m).Max(e => e.Position);
        var (customerNow, merchantNow) = (await Bank.AccountAsync(customer, at), await Bank.AccountAsync(merchant, at));
        Assert.Equal((1_000_000 - paid, paid, 0L), (customerNow.BalanceMinor, merchantNow.BalanceMinor, customerNow.HeldMinor));
    }

    [Fact]
    public async Task WithdrawalsSinglyAndInBatches_RacingABalanceToZero_NeverOverdraw()
    {
        var batches = new BatchService.BatchServiceClient(Host.Channel);
        for (var round = 0; round < 10; round++)
        {
            var account = await Bank.OpenAsync(deposit: 1_000);
            WithdrawMoneyRequest Withdraw() => new() { AccountId = account, AmountMinor = 300, CurrencyCode = "EUR" };
            var answers = await AtOnceAsync([
                .. Enumerable.Range(0, 3).Select(_ => (Func<Task<IMessage>>)(async () => await Bank.Accounts.WithdrawMoneyAsync(Withdraw()))),
                async () => await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { new BatchCommand { Withdraw = Withdraw() }, new BatchCommand { Withdraw = Withdraw() } } }),
                async () => await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands = { new BatchCommand { Withdraw = Withdraw() } } }),
            ]);
            NoFaults(answers);
            var events = await EventsAsync($"account-{account}");
            Contiguous(events);
            var state = await Bank.AccountAsync(account, events[^1].Position);
            Assert.Equal(100, state.BalanceMinor);
            Assert.Equal(5, events.Count);
        }
    }

    [Fact]
    public async Task CallsCutOffByTheirDeadlines_InSharedGroups_AreWrittenWholeOrNotAtAll_AndTheirRetriesCompleteThemOnce()
    {
        var accounts = new[] { await Bank.OpenAsync(deposit: 100_000), await Bank.OpenAsync(deposit: 100_000), await Bank.OpenAsync(deposit: 100_000) };
        var batches = new BatchService.BatchServiceClient(Host.Channel);
        var calls = Enumerable.Range(0, 240).Select(i =>
        {
            var (a, b) = (accounts[i % 3], accounts[(i + 1) % 3]);
            var id = $"deadline-{i}";
            Func<DateTime?, Task<IMessage>> call = (i % 4) switch
            {
                0 => async d => await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
                    { PaymentId = $"p{i}", FromAccountId = a, ToAccountId = b, AmountMinor = 10 + i, CurrencyCode = "EUR", RequestId = id }, deadline: d),
                1 => async d => await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = a, AmountMinor = 1, CurrencyCode = "EUR", RequestId = id }, deadline: d),
                2 => async d => await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands =
                {
                    new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = a, AmountMinor = 1, CurrencyCode = "EUR", RequestId = id + "a" } },
                    new BatchCommand { Transfer = new TransferMoneyRequest { PaymentId = $"p{i}", FromAccountId = b, ToAccountId = a, AmountMinor = 5, CurrencyCode = "EUR", RequestId = id + "b" } },
                } }, deadline: d),
                _ => async d => await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands =
                {
                    new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = b, AmountMinor = 1, CurrencyCode = "EUR", RequestId = id + "a" } },
                    new BatchCommand { Transfer = new TransferMoneyRequest { PaymentId = $"p{i}", FromAccountId = a, ToAccountId = b, AmountMinor = 7, CurrencyCode = "EUR", RequestId = id + "b" } },
                } }, deadline: d),
            };
            return call;
        }).ToList();
        var first = await AtOnceAsync([.. calls.Select((call, i) => (Func<Task<IMessage>>)(() => call(DateTime.UtcNow.AddMilliseconds(10 + i * 7 % 400))))]);
        Assert.All(first, a => Assert.True(a.Ok || a.Error!.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled, a.ToString()));
        var retried = new List<Answer>();
        foreach (var call in calls) retried.AddRange(await AtOnceAsync(() => call(null)));
        Assert.All(retried, a => Assert.True(a.Ok, a.ToString()));
        for (var i = 0; i < first.Length; i++)
            if (first[i].Ok) Assert.Equal(first[i].Reply, retried[i].Reply);
        var total = (await StoredAccountsAsync(accounts)).Sum(a => a.BalanceMinor);
        // Each deposit call adds 1, each independent batch 1, each atomic batch takes 1: 60 of each.
        Assert.Equal(300_000 + 60 + 60 - 60, total);
        Assert.DoesNotContain(Logs.Lines, line => line.StartsWith("Error ") || line.StartsWith("Warning "));
    }

    [Fact]
    public async Task AMixedWorkloadOnFourAccounts_OnOneServer_NeverConflicts_AndConservesMoney()
    {
        var accounts = new[] { await Bank.OpenAsync(deposit: 10_000), await Bank.OpenAsync(deposit: 10_000), await Bank.OpenAsync(deposit: 10_000), await Bank.OpenAsync(deposit: 10_000) };
        var batches = new BatchService.BatchServiceClient(Host.Channel);
        var payments = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var delta = 0L;
        Func<Task<IMessage>> Call(int i)
        {
            var (a, b) = (accounts[i % 4], accounts[(i / 4 + 1 + i) % 4]);
            if (a == b) b = accounts[(i + 1) % 4];
            return (i % 7) switch
            {
                0 => async () =>
                {
                    var r = await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = a, ToAccountId = b, AmountMinor = 300, CurrencyCode = "EUR" });
                    payments.Enqueue(r.PaymentId);
                    return r;
                },
                1 => async () => payments.TryDequeue(out var p)
                    ? await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = p })
                    : await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = a, AmountMinor = 0 + 1, CurrencyCode = "EUR" }).ResponseAsync.ContinueWith(t => { Interlocked.Add(ref delta, 1); return t.Result; }),
                2 => async () =>
                {
                    var r = await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands =
                    {
                        new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = a, AmountMinor = 700, CurrencyCode = "EUR" } },
                        new BatchCommand { Transfer = new TransferMoneyRequest { FromAccountId = b, ToAccountId = a, AmountMinor = 400, CurrencyCode = "EUR" } },
                        new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = b, AmountMinor = 500, CurrencyCode = "EUR" } },
                    } });
                    Interlocked.Add(ref delta, (r.Results[0].Withdraw is null ? 0 : -700) + (r.Results[2].Deposit is null ? 0 : 500));
                    return r;
                },
                3 => async () =>
                {
                    var r = await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands =
                    {
                        new BatchCommand { Transfer = new TransferMoneyRequest { FromAccountId = a, ToAccountId = b, AmountMinor = 250, CurrencyCode = "EUR" } },
                        new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = b, AmountMinor = 200, CurrencyCode = "EUR" } },
                    } });
                    Interlocked.Add(ref delta, -200);
                    return r;
                },
                4 => async () =>
                {
                    var hold = await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = a, AmountMinor = 600, CurrencyCode = "EUR", Reference = "h", Ttl = OneHour });
                    var r = await Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = a, HoldId = hold.HoldId, AmountMinor = 100 });
                    Interlocked.Add(ref delta, -100);
                    return r;
                },
                5 => async () =>
                {
                    var r = await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = b, AmountMinor = 900, CurrencyCode = "EUR" });
                    Interlocked.Add(ref delta, -900);
                    return r;
                },
                _ => async () =>
                {
                    var r = await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = b, AmountMinor = 1_000, CurrencyCode = "EUR" });
                    Interlocked.Add(ref delta, 1_000);
                    return r;
                },
            };
        }
        for (var round = 0; round < 5; round++)
        {
            var answers = await AtOnceAsync([.. Enumerable.Range(0, 70).Select(Call)]);
            Assert.All(answers, a => Assert.True(a.Ok || a.Error!.StatusCode == StatusCode.FailedPrecondition, a.ToString()));
            foreach (var batch in answers.Select(a => a.Reply).OfType<ExecuteBatchResponse>())
                Assert.All(batch.Results, r => Assert.True(r.Error is null || r.Error.Code == (int)Code.FailedPrecondition, r.ToString()));
        }
        var views = await StoredAccountsAsync(accounts);
        Assert.All(views, view => Assert.True(view.BalanceMinor >= 0, $"overdrawn: {view}"));
        var total = views.Sum(a => a.BalanceMinor);
        Assert.Equal(40_000 + delta, total);
    }

    [Fact]
    public async Task EveryReplyToConcurrentCommandsOnOneAccount_IsTheStoredStateAtItsVersion()
    {
        var (hot, other) = (await Bank.OpenAsync(deposit: 5_000), await Bank.OpenAsync(deposit: 100_000));
        var batches = new BatchService.BatchServiceClient(Host.Channel);
        var seen = new System.Collections.Concurrent.ConcurrentBag<(long Version, long Position, long Balance, long? Held)>();
        Func<Task<IMessage>> Call(int i) => (i % 6) switch
        {
            0 => async () =>
            {
                var r = await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = hot, AmountMinor = 100 + i, CurrencyCode = "EUR", RequestId = i % 12 == 0 ? Rpc.NewId() : "" });
                seen.Add((r.Version, r.Position, r.BalanceMinor, null));
                return r;
            },
            1 => async () =>
            {
                var r = await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = hot, AmountMinor = 400, CurrencyCode = "EUR" });
                seen.Add((r.Version, r.Position, r.BalanceMinor, null));
                return r;
            },
            2 => async () => await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = other, ToAccountId = hot, AmountMinor = 300, CurrencyCode = "EUR" }),
            3 => async () =>
            {
                var r = await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = hot, AmountMinor = 200, CurrencyCode = "EUR", Reference = "h", Ttl = OneHour });
                seen.Add((r.Version, r.Position, r.BalanceMinor, r.HeldMinor));
                var c = await Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = hot, HoldId = r.HoldId, AmountMinor = 50 });
                seen.Add((c.Version, c.Position, c.BalanceMinor, c.HeldMinor));
                return c;
            },
            4 => async () =>
            {
                var r = await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands =
                {
                    new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = hot, AmountMinor = 900, CurrencyCode = "EUR" } },
                    new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = hot, AmountMinor = 250, CurrencyCode = "EUR" } },
                } });
                foreach (var result in r.Results)
                    if (result.Deposit is { } d) seen.Add((d.Version, d.Position, d.BalanceMinor, null));
                    else if (result.Withdraw is { } w) seen.Add((w.Version, w.Position, w.BalanceMinor, null));
                return r;
            },
            _ => async () =>
            {
                var r = await batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands =
                {
                    new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = hot, AmountMinor = 70, CurrencyCode = "EUR" } },
                    new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = hot, AmountMinor = 20, CurrencyCode = "EUR" } },
                } });
                return r;
            },
        };
        for (var round = 0; round < 4; round++)
        {
            var answers = await AtOnceAsync([.. Enumerable.Range(0, 60).Select(Call)]);
            Assert.All(answers, a => Assert.True(a.Ok || a.Error!.StatusCode == StatusCode.FailedPrecondition, a.ToString()));
        }
        var events = await EventsAsync($"account-{hot}");
        Contiguous(events);
        var folds = new Dictionary<long, (long Position, GrpcBank.Domain.Accounts.AccountState State)>();
        var state = GrpcBank.Domain.Accounts.Account.Decider.Initial;
        foreach (var e in events)
        {
            state = GrpcBank.Domain.Accounts.Account.Evolve(state, EventCodecs.Accounts.Decode(e));
            folds[e.StreamVersion] = (e.Position, state);
        }
        Assert.NotEmpty(seen);
        foreach (var reply in seen)
        {
            var (position, at) = folds[reply.Version];
            Assert.Equal((position, at.BalanceMinor), (reply.Position, reply.Balance));
            if (reply.Held is { } held) Assert.Equal(at.HeldMinor, held);
        }
    }

    [Fact]
    public async Task ACaptureAndAReleaseRacingTheBanksOwnExpiry_OfAHoldWhoseTimeIsUp_ResolveItOnce_AndTheCaptureIsRefused()
    {
        var account = await Bank.OpenAsync(deposit: 1_000_000);
        var expiry = Host.Get<GrpcBank.Application.Accounts.HoldExpiry>();
        var released = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var hold = await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest
                { AccountId = account, AmountMinor = 100, CurrencyCode = "EUR", Reference = "r", Ttl = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)) });
            await Bank.AccountAsync(account, hold.Position);
            Clock.Advance(TimeSpan.FromMinutes(10));
            var answers = await AtOnceAsync(
                async () => await Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = account, HoldId = hold.HoldId, AmountMinor = 100 }),
                async () => await Bank.Accounts.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = account, HoldId = hold.HoldId }),
                async () => { await expiry.ExpireDueAsync(CancellationToken.None); return new Empty(); });
            NoFaults(answers);
            // A hold that is due may no longer be taken; freeing it before the bank does is allowed (Account.Release).
            Assert.Equal("HOLD_NOT_ACTIVE", answers[0].Reason);
            if (answers[1].Ok) released++;
            else Assert.Equal("HOLD_NOT_ACTIVE", answers[1].Reason);
        }
        var events = await EventsAsync($"account-{account}");
        Contiguous(events);
        Assert.Equal((Rounds - released, released), (events.Count(e => e.EventType.Contains("HoldExpired")), events.Count(e => e.EventType.Contains("HoldReleased"))));
        Assert.Equal(2 + 2 * Rounds, events.Count);
        Assert.Equal(0, (await Bank.AccountAsync(account, events[^1].Position)).HeldMinor);
    }
}

public sealed class EmbeddedRaceSpecs : RaceSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(Configure);
}

public sealed class PostgresRaceSpecs(PostgresServer postgres) : RaceSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), Configure);
}
