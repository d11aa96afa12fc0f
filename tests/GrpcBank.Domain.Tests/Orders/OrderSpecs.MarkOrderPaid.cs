using GrpcBank.Domain.Orders;

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

    // An order is paid by exactly one payment; another payment may not settle it.
    [Fact]
    public void GivenPlacedOrder_WhenMarkPaidByAnotherPayment_ThenPaymentMismatch() =>
        Snapshot.Match(Given(Placed).When(new OrderCommand.MarkOrderPaid(Id, "pay-9999")).Then());
}
