namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenRefundingPayment_WhenRecordRefundDebited_ThenRefundPayeeDebited() =>
        Snapshot.Match(Given(RefundingPayment).When(RecordRefundDebited()).Then());

    [Fact]
    public void GivenRefundPayeeDebitedPayment_WhenRecordRefundDebitedAgain_ThenNoEvents() =>
        Snapshot.Match(Given([.. RefundingPayment, RefundPayeeDebited]).When(RecordRefundDebited()).Then());

    [Fact]
    public void GivenRefundedPayment_WhenRecordRefundDebitedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(RefundedPayment).When(RecordRefundDebited()).Then());

    [Fact]
    public void GivenSecondRefundAttempt_WhenRecordRefundDebited_ThenRefundPayeeDebited() =>
        Snapshot.Match(Given([.. RefundFailedPayment, RefundRequested(2)]).When(RecordRefundDebited()).Then());
}
