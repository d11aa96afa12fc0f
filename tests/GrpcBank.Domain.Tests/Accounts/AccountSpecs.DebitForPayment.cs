namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenDebitForPayment100_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(DebitForPayment(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenDebitForPayment40_ThenPaymentDebited() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(DebitForPayment(4_000)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenDebitForPayment100_ThenPaymentDebited() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(DebitForPayment(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenDebitForPayment150_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(DebitForPayment(15_000)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenDebitForPaymentZero_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(DebitForPayment(0)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenDebitForPaymentInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(DebitForPayment(4_000, Usd)).Then());

    [Fact]
    public void GivenFrozenAccountWith100_WhenDebitForPayment50_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Frozen).When(DebitForPayment(5_000)).Then());

    [Fact]
    public void GivenClosedAccount_WhenDebitForPayment100_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(DebitForPayment(Hundred)).Then());
}
