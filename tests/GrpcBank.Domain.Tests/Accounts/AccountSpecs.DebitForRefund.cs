namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    // The refund takes back from the payee what the payment credited.

    [Fact]
    public void GivenNoAccount_WhenDebitForRefund100_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(DebitForRefund(Hundred)).Then());

    [Fact]
    public void GivenAccountPaid100_WhenDebitForRefund100_ThenRefundDebited() =>
        Snapshot.Match(Given(Opened, PaymentCredited(Hundred)).When(DebitForRefund(Hundred)).Then());

    [Fact]
    public void GivenAccountPaid100ThenWithdrew60_WhenDebitForRefund100_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, PaymentCredited(Hundred), Withdrawn(6_000)).When(DebitForRefund(Hundred)).Then());

    [Fact]
    public void GivenFrozenAccountPaid100_WhenDebitForRefund100_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, PaymentCredited(Hundred), Frozen).When(DebitForRefund(Hundred)).Then());

    [Fact]
    public void GivenClosedAccount_WhenDebitForRefund100_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(DebitForRefund(Hundred)).Then());

    [Fact]
    public void GivenAccountPaid100_WhenDebitForRefundInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened, PaymentCredited(Hundred)).When(DebitForRefund(Hundred, Usd)).Then());
}
