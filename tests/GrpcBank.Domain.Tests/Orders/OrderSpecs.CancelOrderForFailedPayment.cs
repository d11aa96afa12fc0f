using GrpcBank.Domain.Orders;

namespace GrpcBank.Domain.Tests.Orders;

public sealed partial class OrderSpecs
{
    [Fact]
    public void GivenNoOrder_WhenCancelForFailedPayment_ThenOrderNotFound() =>
        Snapshot.Match(Given().When(CancelForFailedPayment()).Then());

    [Fact]
    public void GivenPlacedOrder_WhenCancelForFailedPayment_ThenOrderCancelledWithPaymentReason() =>
        Snapshot.Match(Given(Placed).When(CancelForFailedPayment()).Then());

    // The customer cancelled first; the payment failing afterwards changes nothing.
    [Fact]
    public void GivenCancelledOrder_WhenCancelForFailedPayment_ThenNoEvents() =>
        Snapshot.Match(Given(Placed, Cancelled).When(CancelForFailedPayment()).Then());

    [Fact]
    public void GivenPaidOrder_WhenCancelForFailedPayment_ThenOrderNotCancellable() =>
        Snapshot.Match(Given(Placed, Paid).When(CancelForFailedPayment()).Then());

    [Fact]
    public void GivenPlacedOrder_WhenCancelledForAnotherPaymentsFailure_ThenPaymentMismatch() =>
        Snapshot.Match(Given(Placed).When(new OrderCommand.CancelOrderForFailedPayment(Id, "pay-9999", "INSUFFICIENT_FUNDS")).Then());
}
