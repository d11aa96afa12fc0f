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
    public void GivenActiveAccount_WhenSetNegativeOverdraftLimit_ThenInvalidOverdraftLimit() =>
        Snapshot.Match(Given(Opened).When(SetOverdraftLimit(-1)).Then());

    [Fact]
    public void GivenClosedAccount_WhenSetOverdraftLimit_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(SetOverdraftLimit(5_000)).Then());
}
