namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenDeposit100_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(Deposit(Hundred)).Then());

    [Fact]
    public void GivenActiveAccount_WhenDeposit100_ThenMoneyDeposited() =>
        Snapshot.Match(Given(Opened).When(Deposit(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenDeposit50_ThenMoneyDeposited() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Deposit(5_000)).Then());

    [Fact]
    public void GivenActiveAccount_WhenDepositZero_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened).When(Deposit(0)).Then());

    [Fact]
    public void GivenActiveAccount_WhenDepositNegative_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened).When(Deposit(-Hundred)).Then());

    [Fact]
    public void GivenActiveAccount_WhenDepositMaxAmount_ThenMoneyDeposited() =>
        Snapshot.Match(Given(Opened).When(Deposit(Money.MaxAmountMinor)).Then());

    [Fact]
    public void GivenActiveAccount_WhenDepositAboveMaxAmount_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened).When(Deposit(Money.MaxAmountMinor + 1)).Then());

    [Fact]
    public void GivenActiveAccount_WhenDepositInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened).When(Deposit(Hundred, Usd)).Then());

    // History is fact, not rule: one large deposit stands in for the 100 maximal ones it
    // would take to reach the limit through Decide.
    [Fact]
    public void GivenAccountAtBalanceLimit_WhenDeposit1_ThenBalanceLimitExceeded() =>
        Snapshot.Match(Given(Opened, Deposited(Money.MaxBalanceMinor)).When(Deposit(1)).Then());

    [Fact]
    public void GivenAccountOneBelowBalanceLimit_WhenDeposit1_ThenMoneyDeposited() =>
        Snapshot.Match(Given(Opened, Deposited(Money.MaxBalanceMinor - 1)).When(Deposit(1)).Then());

    [Fact]
    public void GivenFrozenAccount_WhenDeposit100_ThenMoneyDeposited() =>
        Snapshot.Match(Given(Opened, Frozen).When(Deposit(Hundred)).Then());

    [Fact]
    public void GivenClosedAccount_WhenDeposit100_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(Deposit(Hundred)).Then());
}
