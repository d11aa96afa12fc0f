namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenActiveAccount_WhenSetOverdraftLimit50_ThenOverdraftLimitSet() =>
        Snapshot.Match(Given(Opened).When(SetOverdraftLimit(5_000)).Then());

    [Fact]
    public void GivenOverdraft50_WhenSetOverdraftLimit50Again_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, OverdraftLimitSet(5_000)).When(SetOverdraftLimit(5_000)).Then());

    [Fact]
    public void GivenOverdrawnBy50_WhenLowerTheLimitTo49_ThenOverdraftInUse() =>
        Snapshot.Match(Given(Opened, OverdraftLimitSet(5_000), Withdrawn(5_000)).When(SetOverdraftLimit(4_900)).Then());

    [Fact]
    public void GivenOverdrawnBy50_WhenLowerTheLimitTo50Exactly_ThenOverdraftLimitSet() =>
        Snapshot.Match(Given(Opened, OverdraftLimitSet(8_000), Withdrawn(5_000)).When(SetOverdraftLimit(5_000)).Then());

    [Fact]
    public void GivenOverdraft50_WhenSetOverdraftLimit0_ThenOverdraftLimitSetAndNoOverdraftLeft() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), OverdraftLimitSet(5_000)).When(SetOverdraftLimit(0)).Then());

    [Fact]
    public void GivenActiveAccount_WhenSetOverdraftLimitToTheLargestAmount_ThenOverdraftLimitSet() =>
        Snapshot.Match(Given(Opened).When(SetOverdraftLimit(Money.MaxAmountMinor)).Then());

    [Fact]
    public void GivenActiveAccount_WhenSetOverdraftLimitAboveTheLargestAmount_ThenInvalidOverdraftLimit() =>
        Snapshot.Match(Given(Opened).When(SetOverdraftLimit(Money.MaxAmountMinor + 1)).Then());

    [Fact]
    public void GivenNoAccount_WhenSetOverdraftLimit50_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(SetOverdraftLimit(5_000)).Then());

    [Fact]
    public void GivenActiveAccount_WhenSetNegativeOverdraftLimit_ThenInvalidOverdraftLimit() =>
        Snapshot.Match(Given(Opened).When(SetOverdraftLimit(-1)).Then());

    [Fact]
    public void GivenClosedAccount_WhenSetOverdraftLimit_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(SetOverdraftLimit(5_000)).Then());
}
