namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenInitiatedPayment_WhenRecordPayerDebitFailed_ThenPaymentFailed() =>
        Snapshot.Match(Given(Initiated).When(RecordPayerDebitFailed()).Then());

    [Fact]
    public void GivenFailedPayment_WhenRecordPayerDebitFailedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(Initiated, Failed("INSUFFICIENT_FUNDS")).When(RecordPayerDebitFailed()).Then());
}
