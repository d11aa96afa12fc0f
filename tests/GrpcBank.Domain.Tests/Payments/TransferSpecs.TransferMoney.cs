using GrpcBank.Domain.Orders;

namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class TransferSpecs
{
    [Fact]
    public void GivenPayerWith100_WhenTransfer40_ThenPaymentCompletedPayerDebitedPayeeCreditedAtOnce() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenPayerWith100_WhenTransfer100_ThenAllOfItMoves() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(Hundred)).Then());

    [Fact]
    public void GivenPayerWith100_WhenTransfer150_ThenInsufficientFunds() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(15_000)).Then());

    [Fact]
    public void GivenFrozenPayer_WhenTransfer_ThenAccountFrozen() =>
        Snapshot.Match(Given(payer: Frozen(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenFrozenPayee_WhenTransfer_ThenItReceives() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Frozen(Payee, 1)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenClosedPayer_WhenTransfer_ThenAccountClosed() =>
        Snapshot.Match(Given(payer: Closed(Payer), payee: Opened(Payee)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenClosedPayee_WhenTransfer_ThenAccountClosed() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Closed(Payee)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenPayeeInDollars_WhenTransferInEuros_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee, Usd)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenEuroAccounts_WhenTransferInDollars_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(4_000, Usd)).Then());

    [Fact]
    public void GivenNoPayerAccount_WhenTransfer_ThenAccountNotFound() =>
        Snapshot.Match(Given(payee: Opened(Payee)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenNoPayeeAccount_WhenTransfer_ThenAccountNotFound() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred)).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenPayeeAtTheBalanceLimit_WhenTransfer_ThenBalanceLimitExceeded() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: AtBalanceLimit(Payee)).When(TransferOf(1)).Then());

    [Fact]
    public void GivenOneAccount_WhenTransferToItself_ThenSameAccount() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: With(Payer, Hundred)).When(TransferOf(4_000, to: Payer)).Then());

    [Fact]
    public void GivenPayerWith100_WhenTransfer0_ThenInvalidAmount() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(0)).Then());

    [Fact]
    public void GivenThePaymentIdIsTaken_WhenTransfer_ThenPaymentAlreadyExists() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), payment: CompletedTransfer).When(TransferOf(4_000)).Then());

    [Fact]
    public void GivenAnOrdersPaymentId_WhenTransferUnderIt_ThenPaymentIdReserved() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(4_000) with { PaymentId = Order.PaymentIdOf(OrderId) }).Then());

    [Fact]
    public void GivenEuroAccounts_WhenTransferInLowerCaseEur_ThenUnknownCurrency() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee)).When(TransferOf(4_000, "eur")).Then());
}
