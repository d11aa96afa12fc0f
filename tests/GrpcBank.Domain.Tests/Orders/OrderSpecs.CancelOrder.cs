namespace GrpcBank.Domain.Tests.Orders;

public sealed partial class OrderSpecs
{
    [Fact]
    public void GivenNoOrder_WhenCancel_ThenOrderNotFound() =>
        Snapshot.Match(Given().When(Cancel()).Then());

    [Fact]
    public void GivenPlacedOrder_WhenCancel_ThenOrderCancelled() =>
        Snapshot.Match(Given(Placed).When(Cancel()).Then());

    [Fact]
    public void GivenPaidOrder_WhenCancel_ThenOrderNotCancellable() =>
        Snapshot.Match(Given(Placed, Paid).When(Cancel()).Then());

    [Fact]
    public void GivenCancelledOrder_WhenCancel_ThenNoEvents() =>
        Snapshot.Match(Given(Placed, Cancelled).When(Cancel()).Then());

    // The reply to a declined order shows why from its state: the fold keeps the account's reason.
    [Fact]
    public void GivenDeclinedOrder_WhenCancel_ThenNothingChanges_AndItKeepsTheReasonItWasDeclinedFor() =>
        Snapshot.Match(Given(Declined).When(Cancel()).Then());
}
