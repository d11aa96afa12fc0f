namespace GrpcBank.Domain.Tests.Orders;

public sealed partial class OrderSpecs
{
    [Fact]
    public void GivenNoOrder_WhenMarkPaid_ThenOrderNotFound() =>
        Snapshot.Match(Given().When(MarkPaid()).Then());

    [Fact]
    public void GivenPlacedOrder_WhenMarkPaid_ThenOrderPaid() =>
        Snapshot.Match(Given(Placed).When(MarkPaid()).Then());

    [Fact]
    public void GivenPaidOrder_WhenMarkPaid_ThenNoEvents() =>
        Snapshot.Match(Given(Placed, Paid).When(MarkPaid()).Then());

    // The payment process answers this rejection by refunding the payment.
    [Fact]
    public void GivenCancelledOrder_WhenMarkPaid_ThenOrderNotPayable() =>
        Snapshot.Match(Given(Placed, Cancelled).When(MarkPaid()).Then());
}
