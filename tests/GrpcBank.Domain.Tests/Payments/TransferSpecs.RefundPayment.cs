using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class TransferSpecs
{
    [Fact]
    public void GivenCompletedTransfer_WhenRefund_ThenPayeeDebitedPayerCreditedAndPaymentRefundedAtOnce() =>
        Snapshot.Match(Given(
                payer: PayerAfterPaying(Settlement.Atomic),
                payee: PayeeAfterBeingPaid(Settlement.Atomic),
                payment: CompletedTransfer)
            .When(RefundOf()).Then());

    [Fact]
    public void GivenPaymentCompletedByTheSaga_WhenRefund_ThenRefundedAtomically() =>
        Snapshot.Match(Given(
                payer: PayerAfterPaying(Settlement.Saga),
                payee: PayeeAfterBeingPaid(Settlement.Saga),
                payment: CompletedBySaga)
            .When(RefundOf()).Then());

    [Fact]
    public void GivenSagaRefundThatFailed_WhenRefund_ThenRefundedAtomicallyAsTheSecondAttempt() =>
        Snapshot.Match(Given(
                payer: PayerAfterPaying(Settlement.Saga),
                payee: AfterTransfer(With(Payee, Hundred), Credited(Settlement.Saga)),
                payment: RefundFailedBySaga)
            .When(RefundOf()).Then());

    [Fact]
    public void GivenPayeeSpentTheMoney_WhenRefund_ThenInsufficientFunds() =>
        Snapshot.Match(Given(
                payer: PayerAfterPaying(Settlement.Atomic),
                payee: PayeeAfterBeingPaid(Settlement.Atomic, new AccountEvent.MoneyWithdrawn(Payee, 3_000, Eur, "spent")),
                payment: CompletedTransfer)
            .When(RefundOf()).Then());

    [Fact]
    public void GivenFrozenPayee_WhenRefund_ThenAccountFrozen() =>
        Snapshot.Match(Given(
                payer: PayerAfterPaying(Settlement.Atomic),
                payee: PayeeAfterBeingPaid(Settlement.Atomic, new AccountEvent.AccountFrozen(Payee, "review")),
                payment: CompletedTransfer)
            .When(RefundOf()).Then());

    [Fact]
    public void GivenClosedPayer_WhenRefund_ThenAccountClosed() =>
        Snapshot.Match(Given(
                payer: Closed(Payer),
                payee: PayeeAfterBeingPaid(Settlement.Atomic),
                payment: CompletedTransfer)
            .When(RefundOf()).Then());

    [Fact]
    public void GivenNoPayment_WhenRefund_ThenPaymentNotFound() =>
        Snapshot.Match(Given().When(RefundOf()).Then());

    [Fact]
    public void GivenRefundedTransfer_WhenRefundAgain_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: With(Payee, Hundred), payment: RefundedTransfer).When(RefundOf()).Then());

    [Fact]
    public void GivenSagaRefundUnderWay_WhenRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: With(Payee, Hundred), payment: RefundingBySaga).When(RefundOf()).Then());

    [Fact]
    public void GivenFailedPayment_WhenRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), payment: FailedBySaga).When(RefundOf()).Then());
}
