namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenActiveAccount_WhenBlockDebits_ThenAccountRestricted() =>
        Snapshot.Match(Given(Opened).When(Restrict(debits: true, credits: false)).Then());

    [Fact]
    public void GivenDebitsBlocked_WhenBlockTheSameAgain_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: false)).When(Restrict(debits: true, credits: false)).Then());

    [Fact]
    public void GivenDebitsBlocked_WhenBlockBoth_ThenAccountRestrictedAgainWithBoth() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: false)).When(Restrict(debits: true, credits: true)).Then());

    // A restriction only adds blocks: lifting one is LiftRestriction's, which needs the admin role.
    [Fact]
    public void GivenDebitsBlocked_WhenBlockOnlyCredits_ThenRestrictionWouldLoosen() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: false)).When(Restrict(debits: false, credits: true)).Then());

    [Fact]
    public void GivenDebitsAndCreditsBlocked_WhenBlockOnlyDebits_ThenRestrictionWouldLoosen() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: true)).When(Restrict(debits: true, credits: false)).Then());

    [Fact]
    public void GivenActiveAccount_WhenRestrictBlockingNothing_ThenRestrictionBlocksNothing() =>
        Snapshot.Match(Given(Opened).When(Restrict(debits: false, credits: false)).Then());

    [Fact]
    public void GivenDebitsBlockedWith100_WhenWithdraw10_ThenDebitsBlocked() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Restricted(debits: true, credits: false)).When(Withdraw(1_000)).Then());

    [Fact]
    public void GivenDebitsBlocked_WhenDeposit10_ThenMoneyDeposited() =>
        Snapshot.Match(Given(Opened, Restricted(debits: true, credits: false)).When(Deposit(1_000)).Then());

    [Fact]
    public void GivenCreditsBlocked_WhenDeposit10_ThenCreditsBlocked() =>
        Snapshot.Match(Given(Opened, Restricted(debits: false, credits: true)).When(Deposit(1_000)).Then());

    [Fact]
    public void GivenCreditsBlocked_WhenCreditForPayment_ThenCreditsBlocked() =>
        Snapshot.Match(Given(Opened, Restricted(debits: false, credits: true)).When(CreditForPayment(1_000)).Then());

    [Fact]
    public void GivenCreditsBlockedWith100_WhenWithdraw10_ThenMoneyWithdrawn() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Restricted(debits: false, credits: true)).When(Withdraw(1_000)).Then());

    [Fact]
    public void GivenDebitsBlockedOnFrozenAccount_WhenWithdraw_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Frozen, Restricted(debits: true, credits: false)).When(Withdraw(1_000)).Then());

    [Fact]
    public void GivenNoAccount_WhenRestrict_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(Restrict(debits: true, credits: true)).Then());

    [Fact]
    public void GivenClosedAccount_WhenRestrict_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(Restrict(debits: true, credits: true)).Then());
}
