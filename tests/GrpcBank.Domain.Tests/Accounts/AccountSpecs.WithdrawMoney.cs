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

    [Fact]
    public void GivenAccountWith100AndHold40_WhenWithdraw60_ThenMoneyWithdrawnLeavingNothingAvailable() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(Withdraw(6_000)).Then());

    [Fact]
    public void GivenAccountWith100AndHold40_WhenWithdraw60Point01_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(Withdraw(6_001)).Then());

    [Fact]
    public void GivenAccountWith100AndOverdraft50_WhenWithdraw150_ThenMoneyWithdrawnToMinus50() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), OverdraftLimitSet(5_000)).When(Withdraw(15_000)).Then());

    [Fact]
    public void GivenAccountWith100AndOverdraft50_WhenWithdraw150Point01_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), OverdraftLimitSet(5_000)).When(Withdraw(15_001)).Then());

    [Fact]
    public void GivenAccountAtMinus50OnOverdraft50_WhenWithdraw0Point01_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, OverdraftLimitSet(5_000), Withdrawn(5_000)).When(Withdraw(1)).Then());

    [Fact]
    public void GivenAccountWith100Hold40AndOverdraft50_WhenWithdraw110_ThenMoneyWithdrawnToTheLimit() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), OverdraftLimitSet(5_000), HoldPlaced(4_000)).When(Withdraw(11_000)).Then());
}
