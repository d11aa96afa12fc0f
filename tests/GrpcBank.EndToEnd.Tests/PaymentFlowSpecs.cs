using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Every flow of the payment process, end to end through gRPC. Runs on each store.</summary>
public abstract class PaymentFlowSpecs : BankSpecs
{
    private Task<PlaceOrderResponse> PlaceAsync(string customer, string merchant, long amount, string currency = "EUR") =>
        Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = amount, CurrencyCode = currency, Description = "books",
        }).ResponseAsync;

    private async Task<IReadOnlyList<string>> AccountEventTypesAsync(string accountId) =>
        (await Host.Get<IEventStore>().ReadStreamAsync($"account-{accountId}", 1, 1000, CancellationToken.None))
        .Select(e => e.EventType).ToList();

    [Fact]
    public async Task AnOrderWithFunds_IsPaid_AndTheMoneyMovesFromCustomerToMerchant()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();

        var placed = await PlaceAsync(customer, merchant, 2_500);
        var order = await Bank.SettledOrderAsync(placed.OrderId);
        var payment = await Bank.PaymentAsync(placed.PaymentId, PaymentStatus.Completed);

        Assert.Equal(OrderStatus.Paid, order.Status);
        Assert.Equal(placed.PaymentId, order.PaymentId);
        Assert.Equal((placed.OrderId, customer, merchant, 2_500L), (payment.OrderId, payment.FromAccountId, payment.ToAccountId, payment.AmountMinor));
        Assert.Equal(7_500, (await Bank.AccountAsync(customer, payment.Version)).BalanceMinor);
        Assert.Equal(2_500, (await Bank.AccountAsync(merchant)).BalanceMinor);
        Assert.Equal(["accounts.AccountOpened.v1", "accounts.MoneyDeposited.v1", "accounts.PaymentDebited.v1"], await AccountEventTypesAsync(customer));
        Assert.Equal(["accounts.AccountOpened.v1", "accounts.PaymentCredited.v1"], await AccountEventTypesAsync(merchant));
    }

    [Theory]
    [InlineData("none", "INSUFFICIENT_FUNDS")]
    [InlineData("frozen", "ACCOUNT_FROZEN")]
    [InlineData("closed", "ACCOUNT_CLOSED")]
    [InlineData("dollars", "CURRENCY_MISMATCH")]
    public async Task WhenThePayerCannotPay_ThePaymentFails_AndTheOrderIsCancelledWithTheReason(string payer, string reason)
    {
        var customer = await Bank.OpenAsync(deposit: payer == "none" ? 100 : 0, currency: payer == "dollars" ? "USD" : "EUR");
        if (payer == "frozen")
        {
            await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = customer, AmountMinor = 5_000, CurrencyCode = "EUR" });
            await Bank.Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = customer });
        }
        if (payer == "closed") await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = customer });
        var merchant = await Bank.OpenAsync();

        var placed = await PlaceAsync(customer, merchant, 2_500);
        var order = await Bank.SettledOrderAsync(placed.OrderId);
        var payment = await Bank.PaymentAsync(placed.PaymentId, PaymentStatus.Failed);

        Assert.Equal((OrderStatus.Cancelled, reason), (order.Status, order.CancellationReason));
        Assert.Equal(reason, payment.FailureReason);
        Assert.DoesNotContain("accounts.PaymentDebited.v1", await AccountEventTypesAsync(customer));
        Assert.Equal(0, (await Bank.AccountAsync(merchant)).BalanceMinor);
    }

    [Fact]
    public async Task WhenThePayeeIsClosedAfterThePayerWasDebited_ThePayerIsRefunded_AndTheOrderCancelled()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = merchant });

        var placed = await PlaceAsync(customer, merchant, 4_000);
        var order = await Bank.SettledOrderAsync(placed.OrderId);
        var payment = await Bank.PaymentAsync(placed.PaymentId, PaymentStatus.Failed);

        Assert.Equal((OrderStatus.Cancelled, "ACCOUNT_CLOSED"), (order.Status, order.CancellationReason));
        Assert.Equal("ACCOUNT_CLOSED", payment.FailureReason);
        Assert.Equal(10_000, (await Bank.AccountAsync(customer, payment.Version)).BalanceMinor);
        Assert.Equal(
            ["accounts.AccountOpened.v1", "accounts.MoneyDeposited.v1", "accounts.PaymentDebited.v1", "accounts.RefundCredited.v1"],
            await AccountEventTypesAsync(customer));
    }

    [Fact]
    public async Task ATransfer_MovesMoney_AndARefundMovesItBackExactlyOnce()
    {
        var from = await Bank.OpenAsync(deposit: 9_000);
        var to = await Bank.OpenAsync(deposit: 1_000);

        var transfer = await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            FromAccountId = from, ToAccountId = to, AmountMinor = 3_000, CurrencyCode = "EUR", Reference = "rent",
        });
        await Bank.PaymentAsync(transfer.PaymentId, PaymentStatus.Completed);
        var balancesAfterTransfer = ((await Bank.AccountAsync(from)).BalanceMinor, (await Bank.AccountAsync(to)).BalanceMinor);
        await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId, Reason = "duplicate" });
        await Rejected("PAYMENT_NOT_REFUNDABLE", () =>
            Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId }).ResponseAsync);
        var refunded = await Bank.PaymentAsync(transfer.PaymentId, PaymentStatus.Refunded);
        await Rejected("PAYMENT_NOT_REFUNDABLE", () =>
            Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId }).ResponseAsync);

        Assert.Equal((6_000L, 4_000L), balancesAfterTransfer);
        Assert.Equal(9_000, (await Bank.AccountAsync(from, refunded.Version)).BalanceMinor);
        Assert.Equal(1_000, (await Bank.AccountAsync(to)).BalanceMinor);
        Assert.Equal("", refunded.OrderId);
    }

    [Fact]
    public async Task ARefundThePayeeCannotFund_Fails_AndThePaymentStaysCompleted()
    {
        var from = await Bank.OpenAsync(deposit: 5_000);
        var to = await Bank.OpenAsync();
        var transfer = await Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            FromAccountId = from, ToAccountId = to, AmountMinor = 5_000, CurrencyCode = "EUR",
        });
        await Bank.PaymentAsync(transfer.PaymentId, PaymentStatus.Completed);
        await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = to, AmountMinor = 4_000, CurrencyCode = "EUR" });

        var refund = await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId });
        var afterRefund = await Bank.EventuallyAsync(async () =>
        {
            var events = await Host.Get<IEventStore>().ReadStreamAsync($"payment-{transfer.PaymentId}", 1, 100, CancellationToken.None);
            return events[^1].EventType == "payments.RefundFailed.v1" ? events : null;
        });

        Assert.True(afterRefund[^1].Position > refund.Position);
        Assert.Equal(PaymentStatus.Completed, (await Bank.Query.GetPaymentAsync(new GetPaymentRequest
        {
            PaymentId = transfer.PaymentId, MinPosition = afterRefund[^1].Position,
        })).Payment.Status);
        Assert.Equal(1_000, (await Bank.AccountAsync(to)).BalanceMinor);
    }

    [Fact]
    public async Task APaidOrderCannotBeCancelled_AndACancelledOneCannotBePaid()
    {
        var customer = await Bank.OpenAsync(deposit: 5_000);
        var merchant = await Bank.OpenAsync();
        var paid = await PlaceAsync(customer, merchant, 1_000);
        await Bank.SettledOrderAsync(paid.OrderId);

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

        var placed = await Task.WhenAll(plan.Select(p => PlaceAsync(p.Customer, p.Merchant, p.Amount)));
        var orders = await Task.WhenAll(placed.Select(p => Bank.SettledOrderAsync(p.OrderId)));
        var accounts = await Task.WhenAll(customers.Concat(merchants).Select(id => Bank.AccountAsync(id)));

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
