namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenCreditForPayment100_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(CreditForPayment(Hundred)).Then());

    [Fact]
    public void GivenActiveAccount_WhenCreditForPayment100_ThenPaymentCredited() =>
        Snapshot.Match(Given(Opened).When(CreditForPayment(Hundred)).Then());

    // A freeze stops money leaving, not arriving: a frozen merchant can still be paid.
    [Fact]
    public void GivenFrozenAccount_WhenCreditForPayment100_ThenPaymentCredited() =>
        Snapshot.Match(Given(Opened, Frozen).When(CreditForPayment(Hundred)).Then());

    [Fact]
    public void GivenClosedAccount_WhenCreditForPayment100_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(CreditForPayment(Hundred)).Then());

    [Fact]
    public void GivenActiveAccount_WhenCreditForPaymentInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened).When(CreditForPayment(Hundred, Usd)).Then());

    [Fact]
    public void GivenAccountAtBalanceLimit_WhenCreditForPayment1_ThenBalanceLimitExceeded() =>
        Snapshot.Match(Given(Opened, Deposited(Money.MaxBalanceMinor)).When(CreditForPayment(1)).Then());
}
