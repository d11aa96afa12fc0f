namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenWithdraw100_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(Withdraw(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdraw40_ThenMoneyWithdrawn() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(4_000)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdraw100_ThenMoneyWithdrawn() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdraw150_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(15_000)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdraw100Point01_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(Hundred + 1)).Then());

    [Fact]
    public void GivenEmptyActiveAccount_WhenWithdraw1_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened).When(Withdraw(1)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdrawZero_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(0)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdrawNegative_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(-Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdrawAboveMaxAmount_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(Money.MaxAmountMinor + 1)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenWithdrawInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Withdraw(4_000, Usd)).Then());

    [Fact]
    public void GivenFrozenAccountWith100_WhenWithdraw50_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Frozen).When(Withdraw(5_000)).Then());

    [Fact]
    public void GivenUnfrozenAccountWith100_WhenWithdraw50_ThenMoneyWithdrawn() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Frozen, Unfrozen).When(Withdraw(5_000)).Then());

    [Fact]
    public void GivenClosedAccount_WhenWithdraw100_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(Withdraw(Hundred)).Then());
}
