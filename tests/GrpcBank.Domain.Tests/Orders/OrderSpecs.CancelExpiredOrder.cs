using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;

namespace GrpcBank.Domain.Tests.Orders;

public sealed partial class OrderSpecs
{
    private static readonly string HoldId = OrderHoldIds.Of(Id);
    private static readonly DateTimeOffset Expiry = new(2026, 1, 22, 10, 0, 0, TimeSpan.Zero);

    private static OrderEvent Authorized => new OrderEvent.OrderAuthorized(Id, Customer, Merchant, Price, Eur, "a teapot", PaymentId, HoldId, Expiry);
    private static OrderCommand CancelExpired(string? holdId = null) => new OrderCommand.CancelExpiredOrder(Id, holdId ?? HoldId);

    [Fact]
    public void GivenAuthorizedOrder_WhenItsHoldExpired_ThenCancelledWithAuthorizationExpired() =>
        Snapshot.Match(Given(Authorized).When(CancelExpired()).Then());

    [Fact]
    public void GivenAuthorizedOrder_WhenAnotherHoldExpired_ThenNothingHappens() =>
        Snapshot.Match(Given(Authorized).When(CancelExpired("order-another")).Then());

    [Fact]
    public void GivenOrderCancelledByTheCustomer_WhenItsHoldExpired_ThenNothingHappens() =>
        Snapshot.Match(Given(Authorized, Cancelled).When(CancelExpired()).Then());

    [Fact]
    public void GivenOrderCancelledForExpiry_WhenItsHoldExpiredIsReportedAgain_ThenNothingHappens() =>
        Snapshot.Match(Given(Authorized, new OrderEvent.OrderCancelled(Id, Order.AuthorizationExpired)).When(CancelExpired()).Then());

    [Fact]
    public void GivenNoOrder_WhenAHoldExpired_ThenOrderNotFound() =>
        Snapshot.Match(Given().When(CancelExpired()).Then());

    [Fact]
    public void GivenAuthorizedOrder_WhenCancel_ThenOrderCancelled_TheHoldIsReleasedWithIt() =>
        Snapshot.Match(Given(Authorized).When(Cancel()).Then());
}
