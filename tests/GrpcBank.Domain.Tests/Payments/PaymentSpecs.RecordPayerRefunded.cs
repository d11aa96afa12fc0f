namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    // Compensation: the payer has its money back, so the payment fails with the payee's reason.
    [Fact]
    public void GivenCompensatingPayment_WhenRecordPayerRefunded_ThenPaymentFailedWithOriginalReason() =>
        Snapshot.Match(Given(CompensatingPayment).When(RecordPayerRefunded()).Then());

    [Fact]
    public void GivenCompensatedPayment_WhenRecordPayerRefundedAgain_ThenNoEvents() =>
        Snapshot.Match(Given([.. CompensatingPayment, Failed("ACCOUNT_CLOSED")]).When(RecordPayerRefunded()).Then());

    [Fact]
    public void GivenRefundPayeeDebitedPayment_WhenRecordPayerRefunded_ThenPaymentRefunded() =>
        Snapshot.Match(Given([.. RefundingPayment, RefundPayeeDebited]).When(RecordPayerRefunded()).Then());

    [Fact]
    public void GivenRefundedPayment_WhenRecordPayerRefundedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(RefundedPayment).When(RecordPayerRefunded()).Then());

    [Fact]
    public void GivenNoPayment_WhenRecordPayerRefunded_ThenPaymentNotFound() =>
        Snapshot.Match(Given().When(RecordPayerRefunded()).Then());
}
