namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenPayerDebitedPayment_WhenRecordPayeeCreditFailed_ThenPayeeCreditFailed() =>
        Snapshot.Match(Given(Initiated, PayerDebited).When(RecordPayeeCreditFailed()).Then());

    [Fact]
    public void GivenCompensatingPayment_WhenRecordPayeeCreditFailedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(CompensatingPayment).When(RecordPayeeCreditFailed()).Then());

    [Fact]
    public void GivenFailedPayment_WhenRecordPayeeCreditFailedAgain_ThenNoEvents() =>
        Snapshot.Match(Given([.. CompensatingPayment, Failed("ACCOUNT_CLOSED")]).When(RecordPayeeCreditFailed()).Then());
}
