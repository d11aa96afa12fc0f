using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Every flow of payments, end to end through gRPC: orders (authorised by a hold, paid by fulfilment in one atomic step), transfers and refunds (atomic, answered with the outcome). Runs on each store.</summary>
public abstract class PaymentFlowSpecs : BankSpecs
{
    private Task<PlaceOrderResponse> PlaceAsync(string customer, string merchant, long amount, string currency = "EUR") =>
        Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = amount, CurrencyCode = currency, Description = "books",
        }).ResponseAsync;

    private async Task<IReadOnlyList<string>> AccountEventTypesAsync(string accountId) =>
        (await EventsAsync($"account-{accountId}")).Select(e => e.EventType).ToList();

    private async Task<IReadOnlyList<RecordedEvent>> EventsAsync(string streamId) =>
        await Host.Get<IEventStore>().ReadStreamAsync(streamId, 1, 1000, CancellationToken.None);

    private Task<TransferMoneyResponse> TransferAsync(string from, string to, long amount, string currency = "EUR", string requestId = "", string paymentId = "") =>
        Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = paymentId, FromAccountId = from, ToAccountId = to, AmountMinor = amount, CurrencyCode = currency, Reference = "rent",
            RequestId = requestId,
        }).ResponseAsync;

    /// <summary>What the store holds: its head, and whether a request id was logged.</summary>
    private async Task<(long Head, bool Logged)> StoreAsync(string requestId) =>
        (await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None),
         await Host.Get<IEventStore>().FindRequestAsync(requestId, CancellationToken.None) is not null);

    // An order's own flow (authorised by a hold, fulfilled, cancelled, expired) is in OrderHoldSpecs; orders placed
    // before holds are carried on by the payment process (HistoryUpgradeSpecs, ProcessRecoverySpecs).

    [Fact]
    public async Task ATransfer_AnswersOnceTheMoneyHasMoved_AndARefundMovesItBackExactlyOnce()
    {
        var from = await Bank.OpenAsync(deposit: 9_000);
        var to = await Bank.OpenAsync(deposit: 1_000);

        var transfer = await TransferAsync(from, to, 3_000);
        // The reply comes after the commit: its position shows the payment completed and both balances moved.
        var completed = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = transfer.PaymentId, MinPosition = transfer.Position })).Payment;
        var balancesAfterTransfer = ((await Bank.AccountAsync(from, transfer.Position)).BalanceMinor, (await Bank.AccountAsync(to, transfer.Position)).BalanceMinor);
        var refund = await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId, Reason = "duplicate" });
        var refunded = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = transfer.PaymentId, MinPosition = refund.Position })).Payment;
        await Rejected("PAYMENT_NOT_REFUNDABLE", () =>
            Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId }).ResponseAsync);

        Assert.Equal((PaymentStatus.Completed, transfer.Version), (completed.Status, completed.Version));
        Assert.Equal((6_000L, 4_000L), balancesAfterTransfer);
        Assert.Equal((PaymentStatus.Refunded, refund.Version), (refunded.Status, refunded.Version));
        Assert.Equal(9_000, (await Bank.AccountAsync(from, refund.Position)).BalanceMinor);
        Assert.Equal(1_000, (await Bank.AccountAsync(to, refund.Position)).BalanceMinor);
        Assert.Equal("", refunded.OrderId);
        Assert.Equal(["accounts.AccountOpened.v1", "accounts.MoneyDeposited.v1", "accounts.PaymentDebited.v2", "accounts.RefundCredited.v2"],
            await AccountEventTypesAsync(from));
        Assert.Equal(["payments.PaymentInitiated.v2", "payments.PaymentCompleted.v2", "payments.RefundRequested.v2", "payments.PaymentRefunded.v1"],
            (await EventsAsync($"payment-{transfer.PaymentId}")).Select(e => e.EventType));
    }

    [Fact]
    public async Task ARefundThePayeeCannotFund_IsRefusedWithTheReason_WritesNothing_AndThePaymentStaysCompleted()
    {
        var from = await Bank.OpenAsync(deposit: 5_000);
        var to = await Bank.OpenAsync();
        var transfer = await TransferAsync(from, to, 5_000);
        var spent = await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = to, AmountMinor = 4_000, CurrencyCode = "EUR" });
        var before = await StoreAsync("refund-1");

        var refusal = await Rejected("INSUFFICIENT_FUNDS", () =>
            Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId, RequestId = "refund-1" }).ResponseAsync);

        Assert.Equal((to, "1000"), (refusal.Metadata["account_id"], refusal.Metadata["available_minor"])); // the payee's balance refused it, not the payer's
        Assert.Equal(before, await StoreAsync("refund-1"));
        Assert.Equal((before.Head, false), before);
        var payment = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = transfer.PaymentId, MinPosition = spent.Position })).Payment;
        Assert.Equal((PaymentStatus.Completed, "", transfer.Version), (payment.Status, payment.FailureReason, payment.Version));
        Assert.Equal(1_000, (await Bank.AccountAsync(to)).BalanceMinor);
    }

    public static TheoryData<string, string, StatusCode> TransferRejections => new()
    {
        { "insufficient", "INSUFFICIENT_FUNDS", StatusCode.FailedPrecondition },
        { "frozen payer", "ACCOUNT_FROZEN", StatusCode.FailedPrecondition },
        { "closed payee", "ACCOUNT_CLOSED", StatusCode.FailedPrecondition },
        { "dollar payee", "CURRENCY_MISMATCH", StatusCode.FailedPrecondition },
        { "unknown payee", "ACCOUNT_NOT_FOUND", StatusCode.NotFound },
        { "payment id taken", "PAYMENT_ALREADY_EXISTS", StatusCode.AlreadyExists },
    };

    [Theory]
    [MemberData(nameof(TransferRejections))]
    public async Task EveryTransferRejection_HasItsStatusAndReason_AndWritesNothing(string @case, string reason, StatusCode code)
    {
        var from = await Bank.OpenAsync(deposit: 5_000);
        var to = await Bank.OpenAsync(currency: @case == "dollar payee" ? "USD" : "EUR");
        var paymentId = NewId();
        if (@case == "frozen payer") await Bank.Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = from });
        if (@case == "closed payee") await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = to });
        if (@case == "payment id taken") await TransferAsync(from, to, 1_000, paymentId: paymentId);
        var before = await StoreAsync($"transfer-{paymentId}");

        if (@case == "unknown payee") to = NewId();

        var refusal = await Rejected(reason, () => TransferAsync(from, to, @case == "insufficient" ? 5_001 : 100,
            requestId: $"transfer-{paymentId}", paymentId: paymentId), code);

        Assert.Equal((before.Head, false), await StoreAsync($"transfer-{paymentId}"));
        // A refusal for one account's state says which side it is about.
        if (@case != "payment id taken") Assert.Equal(@case.EndsWith("payee") ? to : from, refusal.Metadata["account_id"]);
        if (@case == "dollar payee") Assert.Equal("USD", refusal.Metadata["account_currency"]);
    }

    [Fact]
    public async Task ARetriedTransfer_GetsTheFirstReply_AndMovesTheMoneyOnce_WhileTheIdOnAnotherTransferIsRefused()
    {
        var from = await Bank.OpenAsync(deposit: 5_000);
        var to = await Bank.OpenAsync();

        var first = await TransferAsync(from, to, 1_200, requestId: "pay-rent");
        var again = await TransferAsync(from, to, 1_200, requestId: "pay-rent");
        await Rejected("REQUEST_ID_REUSED", () => TransferAsync(from, to, 1_300, requestId: "pay-rent"));

        Assert.Equal(first, again);
        Assert.Equal(3_800, (await Bank.AccountAsync(from, first.Position)).BalanceMinor);
        Assert.Equal(1_200, (await Bank.AccountAsync(to, first.Position)).BalanceMinor);
    }

    [Fact]
    public async Task TwoHundredConcurrentTransfersBothWays_ConserveMoney_AndEachBalanceIsWhatTheAcknowledgedTransfersSay()
    {
        var a = await Bank.OpenAsync(deposit: 10_000);
        var b = await Bank.OpenAsync(deposit: 10_000);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            var (from, to, amount) = i % 2 == 0 ? (a, b, 100L + i) : (b, a, 100L + i);
            try
            {
                var reply = await TransferAsync(from, to, amount);
                return (From: from, Amount: amount, reply.Position);
            }
            catch (RpcException e) when (e.IsRefusedFor("INSUFFICIENT_FUNDS"))
            {
                return (From: from, Amount: 0L, Position: 0L);
            }
        }));

        var last = outcomes.Max(o => o.Position);
        var aToB = outcomes.Where(o => o.From == a).Sum(o => o.Amount);
        var bToA = outcomes.Where(o => o.From == b).Sum(o => o.Amount);
        Assert.True(outcomes.Count(o => o.Amount > 0) > 100, "most transfers go through");
        Assert.Equal(10_000 - aToB + bToA, (await Bank.AccountAsync(a, last)).BalanceMinor);
        Assert.Equal(10_000 - bToA + aToB, (await Bank.AccountAsync(b, last)).BalanceMinor);
    }

    [Fact]
    public async Task WhileTransfersRun_EverySnapshotOfAClosedSetOfAccounts_SumsToItsTotal()
    {
        // Owners share a word no other account has, so one search lists exactly the set.
        var word = $"Closed{NewId()[..10]}";
        var set = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            var id = NewId();
            await Bank.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"{word} {i}", CurrencyCode = "EUR" });
            await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 100_000, CurrencyCode = "EUR" });
            return id;
        }));
        async Task<(int Count, long Sum, long Position)> SnapshotAsync(long minPosition = 0)
        {
            var page = await Bank.Query.SearchAccountsAsync(new SearchAccountsRequest { Query = word, PageSize = 100, MinPosition = minPosition });
            return (page.Accounts.Count, page.Accounts.Sum(x => x.BalanceMinor), page.Position);
        }
        await Bank.EventuallyAsync(async () => await SnapshotAsync() is { Count: 10, Sum: 1_000_000 } ? "funded" : null);

        using var stop = new CancellationTokenSource();
        long transfers = 0;
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var from = random.Next(10);
                var to = (from + 1 + random.Next(9)) % 10;
                try
                {
                    await TransferAsync(set[from], set[to], random.Next(1, 20_000));
                    Interlocked.Increment(ref transfers);
                }
                catch (RpcException e) when (e.IsRefusedFor("INSUFFICIENT_FUNDS"))
                {
                }
            }
        })).ToList();
        var snapshots = new System.Collections.Concurrent.ConcurrentBag<(int Count, long Sum, long Position)>();
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested) snapshots.Add(await SnapshotAsync());
        })).ToList();
        // At least 4 s, and on until more than 20 transfers ran and the readers saw the balances move (at most 60 s): on a
        // slow machine a fixed 4 s window can hold fewer transfers, or none the read side has applied yet.
        var least = DateTime.UtcNow.AddSeconds(4);
        var most = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < most && (DateTime.UtcNow < least || Interlocked.Read(ref transfers) <= 20
            || snapshots.Select(s => s.Position).Distinct().Count() <= 1))
            await Task.Delay(100, TestContext.Current.CancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll([.. writers, .. readers]);

        Assert.True(transfers > 20, $"only {transfers} transfers ran");
        Assert.True(snapshots.Select(s => s.Position).Distinct().Count() > 1, "the readers saw the balances move");
        Assert.All(snapshots, s => Assert.Equal((10, 1_000_000L), (s.Count, s.Sum)));
    }

    [Fact]
    public async Task APaidOrderCannotBeCancelled_AndACancelledOneCannotBePaid()
    {
        var customer = await Bank.OpenAsync(deposit: 5_000);
        var merchant = await Bank.OpenAsync();
        var paid = await PlaceAsync(customer, merchant, 1_000);
        await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = paid.OrderId });

        await Rejected("ORDER_NOT_CANCELLABLE", () =>
            Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = paid.OrderId, Reason = "changed my mind" }).ResponseAsync);
        await Rejected("ORDER_NOT_FOUND", () =>
            Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = NewId() }).ResponseAsync, StatusCode.NotFound);
        await Rejected("PAYMENT_NOT_FOUND", () =>
            Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = NewId() }).ResponseAsync, StatusCode.NotFound);
    }

    [Fact]
    public async Task MalformedOrdersAndTransfers_AreInvalidArgument_NamingTheFields()
    {
        var a = await Bank.OpenAsync();

        await Invalid(() => Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest { CustomerAccountId = a, MerchantAccountId = a, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "merchant_account_id");
        await Invalid(() => Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest { AmountMinor = -1, CurrencyCode = "" }).ResponseAsync,
            "customer_account_id", "merchant_account_id", "amount_minor", "currency_code");
        await Invalid(() => Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { PaymentId = "order-x", FromAccountId = a, ToAccountId = "b", AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "payment_id");
        await Invalid(() => Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = a, ToAccountId = "b", AmountMinor = 1, CurrencyCode = "EUR", RequestId = "process:x" }).ResponseAsync, "request_id");
        await Invalid(() => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest()).ResponseAsync, "payment_id");
        await Invalid(() => Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = "a b" }).ResponseAsync, "order_id");
        await Invalid(() => Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = "", MinPosition = -5 }).ResponseAsync, "payment_id", "min_position");
    }

    [Fact]
    public async Task TwoHundredConcurrentOrdersAcrossTwentyAccounts_ConserveMoney_AndMerchantsHoldExactlyThePaidOrders()
    {
        var customers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Bank.OpenAsync(deposit: 20_000)));
        var merchants = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Bank.OpenAsync(deposit: 1_000)));
        var random = new Random(7);
        var plan = Enumerable.Range(0, 200)
            .Select(i => (Customer: customers[random.Next(10)], Merchant: merchants[random.Next(10)], Amount: 500L + random.Next(3_000)))
            .ToList();

        // Each order is fulfilled as soon as it is authorised, while the others are still being placed.
        var placed = await Task.WhenAll(plan.Select(async p =>
        {
            var order = await PlaceAsync(p.Customer, p.Merchant, p.Amount);
            var fulfilled = order.Authorized ? await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId }) : null;
            return (order.OrderId, Position: fulfilled?.Position ?? order.Position);
        }));
        var head = placed.Max(p => p.Position);
        var orders = await Task.WhenAll(placed.Select(async p =>
            (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = p.OrderId, MinPosition = head })).Order));
        var accounts = await Task.WhenAll(customers.Concat(merchants).Select(id => Bank.AccountAsync(id, head)));

        var paid = orders.Where(o => o.Status == OrderStatus.Paid).ToList();
        Assert.NotEmpty(paid);
        Assert.Contains(orders, o => o.CancellationReason == "INSUFFICIENT_FUNDS");
        Assert.All(orders.Where(o => o.Status == OrderStatus.Cancelled), o => Assert.Equal("INSUFFICIENT_FUNDS", o.CancellationReason));
        Assert.All(accounts, a => Assert.True(a.BalanceMinor >= 0));
        Assert.Equal(10 * 20_000 + 10 * 1_000, accounts.Sum(a => a.BalanceMinor));
        foreach (var merchant in merchants)
            Assert.Equal(1_000 + paid.Where(o => o.MerchantAccountId == merchant).Sum(o => o.AmountMinor), accounts.Single(a => a.AccountId == merchant).BalanceMinor);
        foreach (var customer in customers)
            Assert.Equal(20_000 - paid.Where(o => o.CustomerAccountId == customer).Sum(o => o.AmountMinor), accounts.Single(a => a.AccountId == customer).BalanceMinor);
    }
}
