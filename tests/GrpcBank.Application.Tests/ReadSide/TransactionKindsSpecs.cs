using GrpcBank.Application.ReadSide;

namespace GrpcBank.Application.Tests.ReadSide;

public sealed class TransactionKindsSpecs
{
    [Fact]
    public void EveryKindIsEitherACreditOrADebit_NeverBoth() =>
        Assert.Equal(Enum.GetValues<TransactionKind>().Order(), TransactionKinds.Credits.Concat(TransactionKinds.Debits).Order());

    [Theory]
    [InlineData(TransactionKind.Deposit, 1)]
    [InlineData(TransactionKind.PaymentCredit, 1)]
    [InlineData(TransactionKind.RefundCredit, 1)]
    [InlineData(TransactionKind.Withdrawal, -1)]
    [InlineData(TransactionKind.PaymentDebit, -1)]
    [InlineData(TransactionKind.RefundDebit, -1)]
    public void ACreditAddsToTheBalance_ADebitTakesFromIt(TransactionKind kind, int sign) => Assert.Equal(sign, kind.Sign());
}
