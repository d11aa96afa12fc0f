namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenDebitsAndCreditsBlocked_WhenLiftRestriction_ThenRestrictionLifted() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: true)).When(LiftRestriction()).Then());

    [Fact]
    public void GivenOnlyCreditsBlocked_WhenLiftRestriction_ThenRestrictionLifted() =>
        Snapshot.Match(Given(Opened, Restricted(debits: false, credits: true)).When(LiftRestriction()).Then());

    [Fact]
    public void GivenClosedAccountThatWasRestricted_WhenLiftRestriction_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: true), Closed).When(LiftRestriction()).Then());

    [Fact]
    public void GivenNoRestriction_WhenLiftRestriction_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened).When(LiftRestriction()).Then());

    [Fact]
    public void GivenRestrictionLifted_WhenWithdraw10_ThenMoneyWithdrawn() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Restricted(debits: true, credits: true), RestrictionLifted).When(Withdraw(1_000)).Then());

    [Fact]
    public void GivenNoAccount_WhenLiftRestriction_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(LiftRestriction()).Then());
}
