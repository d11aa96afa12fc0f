using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Domain.Tests.Payments;

/// <summary>
/// An order's money with holds (<see cref="OrderFunds"/>): placed (hold + authorised, or declined), fulfilled (hold
/// captured, merchant credited, payment completed, order paid — at once), cancelled (hold released with it). The payer
/// is the customer, the payee the merchant. The order's payment id is derived from the order id; its events are listed
/// under the boundary's payment stream key like every other case here.
/// </summary>
public sealed partial class TransferSpecs
{
    private static readonly DateTimeOffset PlacedAt = new(2026, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset AuthorizationExpiry = PlacedAt.AddDays(7);
    private const long OrderPrice = 2_500;
    private static readonly string OrderHold = OrderHoldIds.Of(OrderId);
    private static readonly string OrderPayment = Order.PaymentIdOf(OrderId);

    private static OrderFundsCommand.PlaceOrder PlaceOrderOf(long amountMinor = OrderPrice, string currency = Eur) =>
        new(new OrderCommand.PlaceOrder(OrderId, Payer, Payee, amountMinor, currency, "a teapot"), AuthorizationExpiry, PlacedAt);
    private static OrderFundsCommand.FulfillOrder FulfilAt(DateTimeOffset now) => new(OrderId, now);
    private static OrderFundsCommand.FulfillOrder Fulfil() => FulfilAt(PlacedAt.AddHours(1));
    private static OrderFundsCommand.CancelOrder CancelOrder() => new(OrderId, "found it cheaper");

    private static OrderEvent[] Authorized =>
        [new OrderEvent.OrderAuthorized(OrderId, Payer, Payee, OrderPrice, Eur, "a teapot", OrderPayment, OrderHold, AuthorizationExpiry)];
    private static AccountEvent OrderHoldPlaced => new AccountEvent.HoldPlaced(Payer, OrderHold, OrderPrice, Eur, $"order {OrderId}", AuthorizationExpiry);
    private static AccountEvent[] CustomerHolding => [.. With(Payer, Hundred), OrderHoldPlaced];
    private static OrderEvent[] PaidWithHold => [.. Authorized, new OrderEvent.OrderPaid(OrderId, OrderPayment)];
    private static PaymentEvent[] OrderPaymentCompleted =>
    [
        new PaymentEvent.PaymentInitiated(OrderPayment, OrderId, Payer, Payee, OrderPrice, Eur, $"order {OrderId}", Settlement.Atomic),
        new PaymentEvent.PaymentCompleted(OrderPayment, OrderId, Settlement.Atomic),
    ];
    private static AccountEvent[] CustomerAfterCapture =>
        [.. CustomerHolding, new AccountEvent.HoldCaptured(Payer, OrderHold, OrderPrice, 0, Eur, $"order {OrderId}", OrderPayment, OrderId)];

    // ---- PlaceOrder ----

    [Fact]
    public void GivenCustomerWith100_WhenPlaceOrder_ThenTheAmountIsHeldAndTheOrderAuthorizedAtOnce() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: With(Payer, Hundred)).When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenCustomerWithTooLittle_WhenPlaceOrder_ThenTheOrderIsDeclinedWithInsufficientFunds_AndNothingIsHeld() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: With(Payer, 100)).When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenCustomerWhoseDebitsAreBlocked_WhenPlaceOrder_ThenDeclinedWithDebitsBlocked() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: [.. With(Payer, Hundred), new AccountEvent.AccountRestricted(Payer, true, false, "court order")])
            .When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenFrozenCustomer_WhenPlaceOrder_ThenDeclinedWithAccountFrozen() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: Frozen(Payer, Hundred)).When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenClosedCustomer_WhenPlaceOrder_ThenDeclinedWithAccountClosed() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: Closed(Payer)).When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenEuroCustomer_WhenPlaceOrderInDollars_ThenDeclinedWithCurrencyMismatch() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee, Usd)).When(PlaceOrderOf(currency: Usd)).Then());

    [Fact]
    public void GivenCustomerWhoAlreadyHoldsForAnother_WhenPlaceOrderAboveTheAvailableBalance_ThenDeclinedWithInsufficientFunds() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: [.. With(Payer, Hundred), new AccountEvent.HoldPlaced(Payer, "hold-card", 9_000, Eur, "card", AuthorizationExpiry)])
            .When(PlaceOrderOf()).Then());

    // The order's own rules first: a client's mistake is reported as such, whatever the merchant's account.
    [Fact]
    public void GivenNoMerchantAccount_WhenPlaceOrderOfZero_ThenInvalidAmount() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred)).When(PlaceOrderOf(amountMinor: 0)).Then());

    [Fact]
    public void GivenNoMerchantAccount_WhenPlaceOrder_ThenAccountNotFound_AndNothingIsHeldOrRecorded() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred)).When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenClosedMerchant_WhenPlaceOrder_ThenAccountClosed_AndNothingIsHeldOrRecorded() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Closed(Payee)).When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenDollarMerchant_WhenPlaceOrderInEuros_ThenCurrencyMismatch_AndNothingIsHeldOrRecorded() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee, Usd)).When(PlaceOrderOf()).Then());

    // Closed comes first, as for every credit: the merchant is told its account is closed, not that its currency differs.
    [Fact]
    public void GivenClosedDollarMerchant_WhenPlaceOrderInEuros_ThenAccountClosed_NotCurrencyMismatch() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: [.. Opened(Payee, Usd), new AccountEvent.AccountClosed(Payee)])
            .When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenMerchantWhoseCreditsAreBlocked_WhenPlaceOrder_ThenTheOrderIsAuthorized_TheMerchantJudgedAtFulfilment() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: [.. Opened(Payee), new AccountEvent.AccountRestricted(Payee, false, true, "sanctions")])
            .When(PlaceOrderOf()).Then());

    [Fact]
    public void GivenAuthorizedOrder_WhenPlaceItAgain_ThenOrderAlreadyExists() =>
        Snapshot.Match(Given(payee: Opened(Payee), payer: CustomerHolding, order: Authorized).When(PlaceOrderOf()).Then());

    // ---- FulfillOrder ----

    [Fact]
    public void GivenAuthorizedOrder_WhenFulfil_ThenHoldCapturedMerchantCreditedPaymentCompletedAndOrderPaidAtOnce() =>
        Snapshot.Match(Given(payer: CustomerHolding, payee: Opened(Payee), order: Authorized).When(Fulfil()).Then());

    [Fact]
    public void GivenPaidOrder_WhenFulfilAgain_ThenNothingHappens() =>
        Snapshot.Match(Given(payer: CustomerAfterCapture, payee: [.. Opened(Payee)], payment: OrderPaymentCompleted, order: PaidWithHold)
            .When(Fulfil()).Then());

    [Fact]
    public void GivenMerchantWhoseCreditsAreBlocked_WhenFulfil_ThenCreditsBlocked_AndNothingIsWritten() =>
        Snapshot.Match(Given(payer: CustomerHolding, payee: [.. Opened(Payee), new AccountEvent.AccountRestricted(Payee, false, true, "sanctions")],
            order: Authorized).When(Fulfil()).Then());

    [Fact]
    public void GivenClosedMerchant_WhenFulfil_ThenAccountClosed_AndNothingIsWritten() =>
        Snapshot.Match(Given(payer: CustomerHolding, payee: Closed(Payee), order: Authorized).When(Fulfil()).Then());

    [Fact]
    public void GivenAuthorizationPastItsExpiry_WhenFulfil_ThenHoldNotActive() =>
        Snapshot.Match(Given(payer: CustomerHolding, payee: Opened(Payee), order: Authorized).When(FulfilAt(AuthorizationExpiry)).Then());

    [Fact]
    public void GivenCancelledOrder_WhenFulfil_ThenOrderNotPayable() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), order: [.. Authorized, new OrderEvent.OrderCancelled(OrderId, "changed my mind")])
            .When(Fulfil()).Then());

    [Fact]
    public void GivenOrderPlacedBeforeHolds_WhenFulfil_ThenOrderNotPayable_ThePaymentProcessPaysIt() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), order: Placed()).When(Fulfil()).Then());

    // Only an order paid through its hold takes a repeated fulfilment as a retry.
    [Fact]
    public void GivenOrderPlacedBeforeHoldsAndPaid_WhenFulfil_ThenOrderNotPayable() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), order: [.. Placed(), new OrderEvent.OrderPaid(OrderId, PaymentId)])
            .When(Fulfil()).Then());

    [Fact]
    public void GivenNoOrder_WhenFulfil_ThenOrderNotFound() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(Fulfil()).Then());

    // ---- CancelOrder ----

    [Fact]
    public void GivenAuthorizedOrder_WhenCancel_ThenTheOrderIsCancelledAndTheHoldReleasedAtOnce() =>
        Snapshot.Match(Given(payer: CustomerHolding, order: Authorized).When(CancelOrder()).Then());

    [Fact]
    public void GivenAuthorizedOrderWhoseHoldExpired_WhenCancel_ThenTheOrderIsCancelledAlone() =>
        Snapshot.Match(Given(payer: [.. CustomerHolding, new AccountEvent.HoldExpired(Payer, OrderHold, OrderPrice, AuthorizationExpiry)], order: Authorized)
            .When(CancelOrder()).Then());

    // Only a hold that already resolved is let go silently; an order whose hold the account does not know is refused.
    [Fact]
    public void GivenAuthorizedOrderWhoseHoldTheAccountDoesNotKnow_WhenCancel_ThenHoldNotFound_AndNothingIsWritten() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), order: Authorized).When(CancelOrder()).Then());

    [Fact]
    public void GivenPaidOrder_WhenCancel_ThenOrderNotCancellable() =>
        Snapshot.Match(Given(payer: CustomerAfterCapture, order: PaidWithHold).When(CancelOrder()).Then());

    [Fact]
    public void GivenCancelledOrder_WhenCancelAgain_ThenNothingHappens() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), order: [.. Authorized, new OrderEvent.OrderCancelled(OrderId, "changed my mind")])
            .When(CancelOrder()).Then());

    [Fact]
    public void GivenOrderPlacedBeforeHolds_WhenCancel_ThenTheOrderIsCancelledAlone_AsItAlwaysWas() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), order: Placed()).When(CancelOrder()).Then());
}
