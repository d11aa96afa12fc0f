namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    // The payee could not fund the refund: the payment is Completed again and may be refunded later.
    [Fact]
    public void GivenRefundingPayment_WhenRecordRefundDebitFailed_ThenRefundFailed() =>
        Snapshot.Match(Given(RefundingPayment).When(RecordRefundDebitFailed()).Then());

    [Fact]
    public void GivenPaymentWhoseRefundFailed_WhenRecordRefundDebitFailedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(RefundFailedPayment).When(RecordRefundDebitFailed()).Then());
}
