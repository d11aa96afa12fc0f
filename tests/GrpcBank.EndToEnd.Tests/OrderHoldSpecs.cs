using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Orders paid with holds, through real gRPC clients on each store: placing holds the amount (AUTHORIZED) or declines
/// (CANCELLED with the reason), FulfillOrder captures and pays the merchant in one commit, CancelOrder releases, and an
/// authorisation that expires cancels the order. Time is the spec's clock.
/// </summary>
public abstract class OrderHoldSpecs : BankSpecs
{
    /// <summary>The server's clock: authorisations expire when the spec moves it.</summary>
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    protected void WithClock(WebApplicationBuilder builder) => builder.Services.AddSingleton<TimeProvider>(Clock);

    private static readonly Duration OneHour = Duration.FromTimeSpan(TimeSpan.FromHours(1));

    private Task<PlaceOrderResponse> PlaceAsync(string customer, string merchant, long amount, string currency = "EUR", string requestId = "") =>
        Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = amount, CurrencyCode = currency, Description = "books",
            AuthorizationTtl = OneHour, RequestId = requestId,
        }).ResponseAsync;

    private Task<FulfillOrderResponse> FulfilAsync(string orderId, string requestId = "") =>
        Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = orderId, RequestId = requestId }).ResponseAsync;

    private async Task<Order> OrderAsync(string orderId, long minPosition) =>
        (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = orderId, MinPosition = minPosition })).Order;

    private async Task<IReadOnlyList<RecordedEvent>> EventsAsync(string streamId) =>
        await Host.Get<IEventStore>().ReadStreamAsync(streamId, 1, 1000, CancellationToken.None);

    private Task<long> HeadAsync() => Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

    [Fact]
    public async Task AnOrderWithFunds_IsAuthorizedByAHold_ThenFulfilmentCapturesItAndPaysTheMerchantInOneCommit_AndThePaymentIsRefundable()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();

        var placed = await PlaceAsync(customer, merchant, 2_500);
        var authorized = await OrderAsync(placed.OrderId, placed.Position);
        var held = await Bank.AccountAsync(customer, placed.Position);
        var holds = (await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = customer, MinPosition = placed.Position })).Holds;
        var fulfilled = await FulfilAsync(placed.OrderId);
        var paid = await OrderAsync(placed.OrderId, fulfilled.Position);
        var payment = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = fulfilled.PaymentId, MinPosition = fulfilled.Position })).Payment;
        var customerAfter = await Bank.AccountAsync(customer, fulfilled.Position);
        var merchantAfter = await Bank.AccountAsync(merchant, fulfilled.Position);

        Assert.True(placed.Authorized);
        Assert.Equal(("", $"order-{placed.OrderId}", Clock.GetUtcNow().AddHours(1)),
            (placed.CancellationReason, placed.HoldId, placed.AuthorizationExpiresAt.ToDateTimeOffset()));
        Assert.Equal(OrderStatus.Authorized, authorized.Status);
        Assert.Equal((10_000L, 2_500L, 7_500L), (held.BalanceMinor, held.HeldMinor, held.AvailableMinor));
        Assert.Equal((placed.HoldId, 2_500L, HoldStatus.Active), (holds.Single().HoldId, holds.Single().AmountMinor, holds.Single().Status));
        Assert.Equal((OrderStatus.Paid, placed.PaymentId), (paid.Status, paid.PaymentId));
        Assert.Equal(placed.PaymentId, fulfilled.PaymentId);
        Assert.Equal((PaymentStatus.Completed, placed.OrderId, customer, merchant, 2_500L),
            (payment.Status, payment.OrderId, payment.FromAccountId, payment.ToAccountId, payment.AmountMinor));
        Assert.Equal((7_500L, 0L, 7_500L), (customerAfter.BalanceMinor, customerAfter.HeldMinor, customerAfter.AvailableMinor));
        Assert.Equal(2_500, merchantAfter.BalanceMinor);
        // One commit: the capture, the credit, the order paid and the payment hold consecutive positions.
        RecordedEvent[] step =
        [
            (await EventsAsync($"account-{customer}"))[^1], (await EventsAsync($"account-{merchant}"))[^1],
            (await EventsAsync($"order-{placed.OrderId}"))[^1], .. await EventsAsync($"payment-{placed.PaymentId}"),
        ];
        Assert.Equal(["accounts.HoldCaptured.v1", "accounts.PaymentCredited.v2", "orders.OrderPaid.v1", "payments.PaymentInitiated.v2", "payments.PaymentCompleted.v2"],
            step.Select(e => e.EventType));
        var positions = step.Select(e => e.Position).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => positions[0] + i), positions);
        Assert.Equal(["orders.OrderAuthorized.v1", "orders.OrderPaid.v1"], (await EventsAsync($"order-{placed.OrderId}")).Select(e => e.EventType));

        // Refundable like any other completed payment.
        var refund = await Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = fulfilled.PaymentId, Reason = "damaged" });
        Assert.Equal(10_000, (await Bank.AccountAsync(customer, refund.Position)).BalanceMinor);
        Assert.Equal(0, (await Bank.AccountAsync(merchant, refund.Position)).BalanceMinor);
        Assert.Equal(PaymentStatus.Refunded,
            (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = fulfilled.PaymentId, MinPosition = refund.Position })).Payment.Status);
    }

    [Theory]
    [InlineData("none", "INSUFFICIENT_FUNDS")]
    [InlineData("held", "INSUFFICIENT_FUNDS")]
    [InlineData("frozen", "ACCOUNT_FROZEN")]
    [InlineData("closed", "ACCOUNT_CLOSED")]
    [InlineData("dollars", "CURRENCY_MISMATCH")]
    [InlineData("blocked", "DEBITS_BLOCKED")]
    public async Task WhenTheCustomersAccountRefusesTheHold_TheOrderIsCancelledWithTheReason_AndNothingIsHeld(string customerIs, string reason)
    {
        var customer = await Bank.OpenAsync(deposit: customerIs is "none" or "closed" ? 100 : 5_000, currency: customerIs == "dollars" ? "USD" : "EUR");
        if (customerIs == "closed")
        {
            await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = customer, AmountMinor = 100, CurrencyCode = "EUR" });
            await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = customer });
        }
        if (customerIs == "frozen") await Bank.Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = customer });
        if (customerIs == "blocked")
            await Bank.Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = customer, BlockDebits = true, Reason = "court order" });
        if (customerIs == "held")
            await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = customer, AmountMinor = 4_000, CurrencyCode = "EUR", Ttl = OneHour });
        var merchant = await Bank.OpenAsync();

        var placed = await PlaceAsync(customer, merchant, 2_500);
        var order = await OrderAsync(placed.OrderId, placed.Position);

        Assert.Equal((false, reason, ""), (placed.Authorized, placed.CancellationReason, placed.HoldId));
        Assert.Equal((OrderStatus.Cancelled, reason), (order.Status, order.CancellationReason));
        Assert.Equal(["orders.OrderDeclined.v1"], (await EventsAsync($"order-{placed.OrderId}")).Select(e => e.EventType));
        Assert.DoesNotContain(await EventsAsync($"account-{customer}"), e => e.EventType == "accounts.HoldPlaced.v1" && e.DataJson.Contains(placed.OrderId));
        await Rejected("ORDER_NOT_PAYABLE", () => FulfilAsync(placed.OrderId));
    }

    [Theory]
    [InlineData("blocked", "CREDITS_BLOCKED")]
    [InlineData("closed", "ACCOUNT_CLOSED")]
    public async Task AMerchantThatCannotReceive_FailsTheFulfilment_WithTheReason_AndNothingIsWritten(string merchantIs, string reason)
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        var placed = await PlaceAsync(customer, merchant, 2_500);
        if (merchantIs == "closed") await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = merchant });
        else await Bank.Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = merchant, BlockCredits = true, Reason = "sanctions" });
        var head = await HeadAsync();

        await Rejected(reason, () => FulfilAsync(placed.OrderId, requestId: NewId()));

        Assert.Equal(head, await HeadAsync());
        Assert.Equal(OrderStatus.Authorized, (await OrderAsync(placed.OrderId, head)).Status);
        Assert.Equal(2_500, (await Bank.AccountAsync(customer, head)).HeldMinor);
    }

    [Theory]
    [InlineData("missing", "ACCOUNT_NOT_FOUND", StatusCode.NotFound)]
    [InlineData("closed", "ACCOUNT_CLOSED", StatusCode.FailedPrecondition)]
    [InlineData("dollars", "CURRENCY_MISMATCH", StatusCode.FailedPrecondition)]
    public async Task AnOrderToAMerchantNoFulfilmentCouldPay_IsRefused_AndHoldsNothing(string merchantIs, string reason, StatusCode code)
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = merchantIs == "missing" ? "nobody-" + NewId() : await Bank.OpenAsync(currency: merchantIs == "dollars" ? "USD" : "EUR");
        if (merchantIs == "closed") await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = merchant });
        var head = await HeadAsync();

        await Rejected(reason, () => PlaceAsync(customer, merchant, 2_500), code);

        Assert.Equal(head, await HeadAsync());
        Assert.Equal(0, (await Bank.AccountAsync(customer, head)).HeldMinor);
    }

    [Fact]
    public async Task FulfillingTwice_PaysOnce()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        var placed = await PlaceAsync(customer, merchant, 2_500);

        var first = await FulfilAsync(placed.OrderId, requestId: "fulfil-1");
        var retried = await FulfilAsync(placed.OrderId, requestId: "fulfil-1");
        var again = await FulfilAsync(placed.OrderId);

        Assert.Equal((first.Version, first.Position), (retried.Version, retried.Position));
        Assert.Equal(first.Version, again.Version);
        Assert.Equal(first.Position, await HeadAsync());
        Assert.Equal(7_500, (await Bank.AccountAsync(customer, first.Position)).BalanceMinor);
        Assert.Equal(2_500, (await Bank.AccountAsync(merchant, first.Position)).BalanceMinor);
    }

    [Fact]
    public async Task AnAuthorisationEndingBetweenMicroseconds_IsAnsweredAsListHoldsShowsItsHold_AndSoIsItsRetry()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        // The server's clock at 09:00:00.0000007: the authorisation ends 700 ns after a microsecond, which the read stores drop.
        Clock.Advance(TimeSpan.FromTicks(7));
        var requestId = NewId();

        var placed = await PlaceAsync(customer, merchant, 2_500, requestId: requestId);
        var retried = await PlaceAsync(customer, merchant, 2_500, requestId: requestId);
        var hold = Assert.Single((await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = customer, MinPosition = placed.Position })).Holds);

        Assert.Equal((placed.HoldId, placed.AuthorizationExpiresAt), (hold.HoldId, hold.ExpiresAt));
        Assert.Equal(placed, retried);
    }

    [Fact]
    public async Task PlacingTwiceWithTheSameRequestId_HoldsOnce()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();

        var first = await PlaceAsync(customer, merchant, 2_500, requestId: "place-1");
        var retried = await PlaceAsync(customer, merchant, 2_500, requestId: "place-1");

        Assert.Equal((first.OrderId, first.Position, first.HoldId, first.AuthorizationExpiresAt), (retried.OrderId, retried.Position, retried.HoldId, retried.AuthorizationExpiresAt));
        Assert.Equal(2_500, (await Bank.AccountAsync(customer, first.Position)).HeldMinor);
    }

    [Fact]
    public async Task CancellingBeforeFulfilment_ReleasesTheHoldInTheSameCommit_AndAPaidOrderCannotBeCancelled()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        var cancelledOrder = await PlaceAsync(customer, merchant, 2_500);
        var paidOrder = await PlaceAsync(customer, merchant, 1_000);
        await FulfilAsync(paidOrder.OrderId);

        var cancelled = await Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = cancelledOrder.OrderId, Reason = "found it cheaper" });
        var order = await OrderAsync(cancelledOrder.OrderId, cancelled.Position);
        var account = await Bank.AccountAsync(customer, cancelled.Position);
        var released = (await EventsAsync($"account-{customer}"))[^1];

        Assert.Equal((OrderStatus.Cancelled, "found it cheaper"), (order.Status, order.CancellationReason));
        Assert.Equal((9_000L, 0L, 9_000L), (account.BalanceMinor, account.HeldMinor, account.AvailableMinor));
        Assert.Equal(("accounts.HoldReleased.v1", cancelled.Position - 1), (released.EventType, released.Position));
        await Rejected("ORDER_NOT_CANCELLABLE", () =>
            Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = paidOrder.OrderId, Reason = "changed my mind" }).ResponseAsync);
        await Rejected("ORDER_NOT_PAYABLE", () => FulfilAsync(cancelledOrder.OrderId));
        await Rejected("ORDER_NOT_FOUND", () => FulfilAsync(NewId()), StatusCode.NotFound);
        // The order's hold moves only with its order.
        await Invalid(() => Bank.Accounts.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = customer, HoldId = paidOrder.HoldId }).ResponseAsync, "hold_id");
    }

    [Fact]
    public async Task AnAuthorisationThatExpires_CancelsItsOrderExactlyOnce_AndTheOrderCanNoLongerBeFulfilled()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        var placed = await PlaceAsync(customer, merchant, 2_500);
        await Bank.AccountAsync(customer, placed.Position);

        Clock.Advance(TimeSpan.FromHours(1));
        // The bank's own expiry loop may get there first and cancel the order: either way it cannot be fulfilled.
        var refused = await Fails(StatusCode.FailedPrecondition, () => FulfilAsync(placed.OrderId));
        Assert.Contains(refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason, new[] { "HOLD_NOT_ACTIVE", "ORDER_NOT_PAYABLE" });
        var order = await Bank.EventuallyAsync(async () =>
        {
            await Host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None);
            var o = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId })).Order;
            return o.Status == OrderStatus.Cancelled ? o : null;
        });
        await Host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None);

        Assert.Equal("AUTHORIZATION_EXPIRED", order.CancellationReason);
        Assert.Equal(["orders.OrderAuthorized.v1", "orders.OrderCancelled.v1"], (await EventsAsync($"order-{placed.OrderId}")).Select(e => e.EventType));
        Assert.Single(await EventsAsync($"account-{customer}"), e => e.EventType == "accounts.HoldExpired.v1");
        Assert.Equal((10_000L, 0L), ((await Bank.AccountAsync(customer, order.Version)).BalanceMinor, (await Bank.AccountAsync(customer)).HeldMinor));
        await Rejected("ORDER_NOT_PAYABLE", () => FulfilAsync(placed.OrderId));
    }

    [Fact]
    public async Task AnAuthorisationThatExpiresWhileTheServerIsDown_CancelsItsOrderOnceAfterTheRestart()
    {
        var customer = await Bank.OpenAsync(deposit: 10_000);
        var merchant = await Bank.OpenAsync();
        var placed = await PlaceAsync(customer, merchant, 2_500);
        await OrderAsync(placed.OrderId, placed.Position);

        await Host.RestartAsync(() => Clock.Advance(TimeSpan.FromHours(2)));
        var order = await Bank.EventuallyAsync(async () =>
        {
            var o = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId })).Order;
            return o.Status == OrderStatus.Cancelled ? o : null;
        });
        await Host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None);

        Assert.Equal("AUTHORIZATION_EXPIRED", order.CancellationReason);
        Assert.Single(await EventsAsync($"order-{placed.OrderId}"), e => e.EventType == "orders.OrderCancelled.v1");
        Assert.Single(await EventsAsync($"account-{customer}"), e => e.EventType == "accounts.HoldExpired.v1");
    }

    [Fact]
    public async Task AnAuthorisationTtlOutOfRange_OrAFulfilmentWithoutAnOrder_IsInvalidArgument_NamingTheField_WithTheHoldRulesReason()
    {
        var customer = await Bank.OpenAsync(deposit: 1_000);
        var merchant = await Bank.OpenAsync();

        // A ttl under a microsecond ends, as every expiry is kept, at the clock's microsecond: now. It was a valid request
        // then, and the order was written, declined by the hold's rule.
        foreach (var (ttl, reason) in new[]
                 {
                     (TimeSpan.Zero, "HOLD_EXPIRY_NOT_IN_FUTURE"), (TimeSpan.FromSeconds(-1), "HOLD_EXPIRY_NOT_IN_FUTURE"),
                     (TimeSpan.FromTicks(1), "HOLD_EXPIRY_NOT_IN_FUTURE"), (TimeSpan.FromDays(32), "HOLD_EXPIRY_TOO_FAR"),
                 })
            await InvalidFor(reason, "authorization_ttl", () => Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
            {
                OrderId = $"o-ttl-{ttl.Ticks}", CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 1, CurrencyCode = "EUR",
                AuthorizationTtl = Duration.FromTimeSpan(ttl),
            }).ResponseAsync);
        Assert.Empty(await EventsAsync($"order-o-ttl-{TimeSpan.FromTicks(1).Ticks}"));
        await InvalidFor("SAME_ACCOUNT", "merchant_account_id", () => Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = customer, AmountMinor = 1, CurrencyCode = "EUR",
        }).ResponseAsync);
        await Invalid(() => Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest()).ResponseAsync, "order_id");
        await InvalidFor("HOLD_ID_RESERVED", "hold_id", () => Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest
        {
            AccountId = customer, HoldId = "order-mine", AmountMinor = 1, CurrencyCode = "EUR", Ttl = OneHour,
        }).ResponseAsync);
    }

    [Fact]
    public async Task FiftyConcurrentOrdersOnOneCustomer_NeverHoldMoreThanItHas_AndFulfilmentConservesMoney()
    {
        var customer = await Bank.OpenAsync(deposit: 20_000);
        var merchant = await Bank.OpenAsync();

        var placed = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => PlaceAsync(customer, merchant, 1_000)));
        var authorized = placed.Where(p => p.Authorized).ToList();
        var fulfilled = await Task.WhenAll(authorized.Select(p => FulfilAsync(p.OrderId)));
        var head = fulfilled.Max(f => f.Position);

        Assert.Equal(20, authorized.Count);
        Assert.All(placed.Where(p => !p.Authorized), p => Assert.Equal("INSUFFICIENT_FUNDS", p.CancellationReason));
        Assert.Equal((0L, 0L), ((await Bank.AccountAsync(customer, head)).BalanceMinor, (await Bank.AccountAsync(customer, head)).HeldMinor));
        Assert.Equal(20_000, (await Bank.AccountAsync(merchant, head)).BalanceMinor);
    }
}
