namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    // The refund (or the compensation of a failed payment) gives the payer its money back.

    [Fact]
    public void GivenNoAccount_WhenCreditForRefund100_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(CreditForRefund(Hundred)).Then());

    [Fact]
    public void GivenActiveAccount_WhenCreditForRefund100_ThenRefundCredited() =>
        Snapshot.Match(Given(Opened).When(CreditForRefund(Hundred)).Then());

    [Fact]
    public void GivenFrozenAccount_WhenCreditForRefund100_ThenRefundCredited() =>
        Snapshot.Match(Given(Opened, Frozen).When(CreditForRefund(Hundred)).Then());

    [Fact]
    public void GivenClosedAccount_WhenCreditForRefund100_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(CreditForRefund(Hundred)).Then());

    // A saga's return: a credit block placed while the money was out does not strand it (Account.Return); a deposit or a
    // payment in is still refused (GivenCreditsBlocked_WhenDeposit10_ThenCreditsBlocked).
    [Fact]
    public void GivenCreditsBlocked_WhenCreditForRefund100_ThenRefundCredited() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: true)).When(CreditForRefund(Hundred)).Then());

    [Fact]
    public void GivenActiveAccount_WhenCreditForRefundInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened).When(CreditForRefund(Hundred, Usd)).Then());

    [Fact]
    public void GivenAccountAtBalanceLimit_WhenCreditForRefund1_ThenBalanceLimitExceeded() =>
        Snapshot.Match(Given(Opened, Deposited(Money.MaxBalanceMinor)).When(CreditForRefund(1)).Then());
}
