using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Domain.Tests.Accounts;

/// <summary>
/// Money at the extremes of an int64 of minor units. Every amount is checked before it is added to anything, and the
/// bounds (a movement at most 10^13, a balance at most 10^15, an overdraft at most 10^13) keep every sum the account
/// makes (balance + credit, balance − holds + overdraft, held + hold) far inside an int64: nothing wraps around.
/// History is fact, not rule: one large deposit stands in for the 100 maximal ones it would take to reach the limit.
/// </summary>
public sealed partial class AccountSpecs
{
    private static readonly long[] NeverAnAmount = [long.MinValue, long.MinValue + 1, -Money.MaxAmountMinor, -1, 0, Money.MaxAmountMinor + 1, long.MaxValue];

    private static AccountState AtTheBalanceLimit => Account.Decider.Fold([Opened, Deposited(Money.MaxBalanceMinor)]);

    private static Rejection? RejectionOf<T>(Either<Rejection, T> decision) => decision.Match(Right: _ => (Rejection?)null, Left: r => r);

    [Fact]
    public void AnAmountOutOfRange_IsAnInvalidAmount_BeforeItIsAddedToAnything_EvenAtTheBalanceLimit()
    {
        // At the limit, balance + long.MaxValue would wrap to a negative number and pass the balance check if that came first.
        foreach (var state in new[] { Account.Decider.Fold([Opened]), AtTheBalanceLimit })
        foreach (var amount in NeverAnAmount)
        {
            var commands = new[]
            {
                Deposit(amount), Withdraw(amount), DebitForPayment(amount), CreditForPayment(amount), DebitForRefund(amount),
                CreditForRefund(amount), PlaceHold(amount),
            };
            foreach (var command in commands)
                Assert.Equal((command.GetType().Name, amount, (Rejection?)new MoneyRejection.InvalidAmount(amount)),
                    (command.GetType().Name, amount, RejectionOf(Account.Decide(command, state))));
        }
    }

    [Fact]
    public void ACaptureOrAnOverdraftLimitOutOfRange_IsRefusedNamingItsOwnRule()
    {
        var held = Account.Decider.Fold([Opened, Deposited(Money.MaxAmountMinor), HoldPlaced(Money.MaxAmountMinor)]);
        // 0 captures the whole hold; every other amount out of range is invalid, never compared with the hold first.
        foreach (var amount in NeverAnAmount.Where(a => a != 0))
            Assert.Equal((amount, (Rejection?)new MoneyRejection.InvalidAmount(amount)), (amount, RejectionOf(Account.Decide(CaptureHold(amount), held))));
        foreach (var limit in new[] { long.MinValue, -1, Money.MaxAmountMinor + 1, long.MaxValue })
            Assert.Equal((limit, (Rejection?)new AccountRejection.InvalidOverdraftLimit(limit)),
                (limit, RejectionOf(Account.Decide(SetOverdraftLimit(limit), held))));
    }

    [Fact]
    public void EveryCreditReachesTheBalanceLimitExactly_AndNotOneMinorUnitPast()
    {
        var below = Account.Decider.Fold([Opened, Deposited(Money.MaxBalanceMinor - Money.MaxAmountMinor)]);
        var oneAbove = Account.Decider.Fold([Opened, Deposited(Money.MaxBalanceMinor - Money.MaxAmountMinor + 1)]);
        foreach (var credit in new Func<long, AccountCommand>[] { a => Deposit(a), a => CreditForPayment(a), a => CreditForRefund(a) })
        {
            var reached = Account.Decide(credit(Money.MaxAmountMinor), below).Match(Right: e => e.Fold(below, Account.Evolve), Left: r => throw new Xunit.Sdk.XunitException($"{r}"));
            Assert.Equal(Money.MaxBalanceMinor, reached.BalanceMinor);
            Assert.Equal(new AccountRejection.BalanceLimitExceeded(Id, Money.MaxBalanceMinor, 1), RejectionOf(Account.Decide(credit(1), reached)));
            Assert.Equal(new AccountRejection.BalanceLimitExceeded(Id, Money.MaxBalanceMinor - Money.MaxAmountMinor + 1, Money.MaxAmountMinor),
                RejectionOf(Account.Decide(credit(Money.MaxAmountMinor), oneAbove)));
        }
    }

    [Fact]
    public void AnAccountAtTheLimit_MayHoldAndOverdrawEverything_AndTheSumsStayExact()
    {
        // Balance 10^15 and an overdraft of 10^13: holds may reserve 10^15 + 10^13 in all, the available balance then
        // stands at −10^13, and one minor unit more is insufficient funds, not a wrapped sum.
        var state = Account.Decider.Fold([Opened, Deposited(Money.MaxBalanceMinor), OverdraftLimitSet(Money.MaxAmountMinor)]);
        var holds = (Money.MaxBalanceMinor + Money.MaxAmountMinor) / Money.MaxAmountMinor;
        for (var i = 0; i < holds; i++)
            state = Account.Decide(PlaceHold(Money.MaxAmountMinor, $"h{i}"), state)
                .Match(Right: e => e.Fold(state, Account.Evolve), Left: r => throw new Xunit.Sdk.XunitException($"hold {i}: {r}"));

        Assert.Equal((Money.MaxBalanceMinor, Money.MaxBalanceMinor + Money.MaxAmountMinor, -Money.MaxAmountMinor),
            (state.BalanceMinor, state.HeldMinor, state.AvailableMinor));
        Assert.IsType<AccountRejection.InsufficientFunds>(RejectionOf(Account.Decide(PlaceHold(1, "one-more"), state)));
        Assert.IsType<AccountRejection.InsufficientFunds>(RejectionOf(Account.Decide(Withdraw(1), state)));
        // Capturing them all takes the balance down to −10^13 exactly.
        for (var i = 0; i < holds; i++)
            state = Account.Decide(CaptureHold(0, $"h{i}"), state)
                .Match(Right: e => e.Fold(state, Account.Evolve), Left: r => throw new Xunit.Sdk.XunitException($"capture {i}: {r}"));
        Assert.Equal((-Money.MaxAmountMinor, 0L, -Money.MaxAmountMinor), (state.BalanceMinor, state.HeldMinor, state.AvailableMinor));
    }

    [Fact]
    public void ATransferARefundOrAnOrderPaidToAnAccountAtTheLimit_IsRefusedWhole_NothingLeavesThePayer()
    {
        var payer = Account.Decider.Fold([new AccountEvent.AccountOpened("payer", "Bob", Eur), new AccountEvent.MoneyDeposited("payer", Money.MaxAmountMinor, Eur, "")]);
        var full = Account.Decider.Fold([new AccountEvent.AccountOpened("full", "Ada", Eur), new AccountEvent.MoneyDeposited("full", Money.MaxBalanceMinor, Eur, "")]);
        var limit = new AccountRejection.BalanceLimitExceeded("full", Money.MaxBalanceMinor, 1);

        var transfer = new TransferCommand.TransferMoney("p1", "payer", "full", 1, Eur, "");
        Assert.Equal(limit, RejectionOf(Transfer.Decide(transfer, PaymentState.Initial, payer, full)));

        // A completed payment from "full" (when it had room) refunded now that it is at the limit.
        var paid = Payment.Decider.Fold([
            new PaymentEvent.PaymentInitiated("p2", "", "full", "payer", 1, Eur, "", Settlement.Atomic),
            new PaymentEvent.PaymentCompleted("p2", "", Settlement.Atomic)]);
        Assert.Equal(limit, RejectionOf(Transfer.Refund(new TransferCommand.RefundPayment("p2", "returned"), paid, full, payer)));

        // An authorised order whose merchant reached the limit meanwhile: its fulfilment writes nothing, the hold stays.
        var placed = new OrderCommand.PlaceOrder("o1", "payer", "full", 1, Eur, "lamp");
        var authorized = OrderFunds.Place(new OrderFundsCommand.PlaceOrder(placed, Now.AddMinutes(30), Now), OrderState.Initial, payer, full, r => r.GetType().Name)
            .Match(Right: e => e, Left: r => throw new Xunit.Sdk.XunitException($"{r}"));
        var order = authorized.Order.Fold(OrderState.Initial, Order.Evolve);
        var customer = authorized.Payer.Fold(payer, Account.Evolve);
        Assert.Equal(OrderStatus.Authorized, order.Status);
        Assert.Equal(limit, RejectionOf(OrderFunds.Fulfil(new OrderFundsCommand.FulfillOrder("o1", Now.AddMinutes(1)), order, PaymentState.Initial, customer, full)));
    }
}
