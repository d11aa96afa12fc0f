using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// Orders with holds on the read side: an authorised order (AUTHORIZED, its hold on the customer's account), a declined
/// one (CANCELLED with the reason), and a fulfilled one (PAID; its capture a payment debit naming the order).
/// </summary>
public abstract partial class ReadStoreConformance
{
    private static readonly DateTimeOffset AuthorizationExpiry = History.Start.AddDays(7);

    private static IEnumerable<RecordedEvent> AuthorizedBy(History h, string orderId, string customer, string merchant, long amount, string description)
    {
        var holdId = OrderHoldIds.Of(orderId);
        yield return h.Account(new AccountEvent.HoldPlaced(customer, holdId, amount, "EUR", $"order {orderId}", AuthorizationExpiry));
        yield return h.Order(new OrderEvent.OrderAuthorized(orderId, customer, merchant, amount, "EUR", description, Order.PaymentIdOf(orderId), holdId,
            AuthorizationExpiry));
    }

    private static IEnumerable<RecordedEvent> FulfilledBy(History h, string orderId, string customer, string merchant, long amount)
    {
        var paymentId = Order.PaymentIdOf(orderId);
        yield return h.Account(new AccountEvent.HoldCaptured(customer, OrderHoldIds.Of(orderId), amount, 0, "EUR", $"order {orderId}", paymentId, orderId));
        yield return h.Account(new AccountEvent.PaymentCredited(merchant, new Movement(paymentId, orderId, amount, "EUR"), Settlement.Atomic));
        yield return h.Order(new OrderEvent.OrderPaid(orderId, paymentId));
        yield return h.Payment(new PaymentEvent.PaymentInitiated(paymentId, orderId, customer, merchant, amount, "EUR", $"order {orderId}", Settlement.Atomic));
        yield return h.Payment(new PaymentEvent.PaymentCompleted(paymentId, orderId, Settlement.Atomic));
    }

    [Fact]
    public async Task OrdersWithHolds_ShowAuthorized_Declined_AndPaid_AndTheCaptureIsAPaymentDebitNamingTheOrder()
    {
        var h = new History();
        await ApplyAsync(h, [
            h.Opened("cust", "Customer cust"), h.Opened("merch", "Merchant merch"), h.Deposited("cust", 5_000, reference: "salary"),
            .. AuthorizedBy(h, "o1", "cust", "merch", 1_200, "Reading lamp"),
            .. AuthorizedBy(h, "o2", "cust", "merch", 800, "Desk lamp"),
            h.Order(new OrderEvent.OrderDeclined("o3", "cust", "merch", 90_000, "EUR", "Garden chairs", Order.PaymentIdOf("o3"), "INSUFFICIENT_FUNDS")),
        ]);
        var authorized = (await Store.GetOrderAsync("o1", None))!;
        var heldBefore = (await Store.GetAccountAsync("cust", None))!;
        await ApplyAsync(h, [.. FulfilledBy(h, "o1", "cust", "merch", 1_200)]);

        var paid = (await Store.GetOrderAsync("o1", None))!;
        var declined = (await Store.GetOrderAsync("o3", None))!;
        var customer = (await Store.GetAccountAsync("cust", None))!;
        var merchant = (await Store.GetAccountAsync("merch", None))!;
        var payment = (await Store.GetPaymentAsync(Order.PaymentIdOf("o1"), None))!;
        var debit = (await StatementAsync("cust")).Last();

        Assert.Equal((OrderViewStatus.Authorized, "Reading lamp", Order.PaymentIdOf("o1")), (authorized.Status, authorized.Description, authorized.PaymentId));
        Assert.Equal((5_000L, 2_000L, 3_000L), (heldBefore.BalanceMinor, heldBefore.HeldMinor, heldBefore.AvailableMinor));
        Assert.Equal(OrderViewStatus.Paid, paid.Status);
        Assert.Equal((OrderViewStatus.Cancelled, "INSUFFICIENT_FUNDS", 90_000L), (declined.Status, declined.CancellationReason, declined.AmountMinor));
        Assert.Equal((3_800L, 800L, 3_000L), (customer.BalanceMinor, customer.HeldMinor, customer.AvailableMinor));
        Assert.Equal(1_200, merchant.BalanceMinor);
        Assert.Equal((PaymentViewStatus.Completed, "o1"), (payment.Status, payment.OrderId));
        Assert.Equal((TransactionKind.PaymentDebit, 1_200L, 3_800L, Order.PaymentIdOf("o1"), "o1"),
            (debit.Kind, debit.AmountMinor, debit.BalanceAfterMinor, debit.PaymentId, debit.OrderId));
        Assert.Equal(["o2"], await OrdersFoundAsync(status: OrderViewStatus.Authorized));
        Assert.Equal(["o3"], await OrdersFoundAsync(status: OrderViewStatus.Cancelled));
        Assert.Equal(["o2", "o1"], await OrdersFoundAsync("lamp"));
    }
}
