using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// Atomic batches over the same accounts are decided one after another, but not committed one after another: the next
/// batch is decided on the states the one before leaves as soon as that one is handed to the store, rests its append on
/// it (expected version and last event), and is answered only after its own commit. When the one before fails, the next
/// is decided again on what the store holds.
/// </summary>
public sealed class AtomicBatchSpecs
{
    private readonly InMemoryEventStore store = new(grouped: true);

    /// <summary>Held: every group waits for it before it is written.</summary>
    private readonly TaskCompletionSource groupsWait = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly AtomicBatch batches;

    public AtomicBatchSpecs() =>
        batches = new AtomicBatch(store,
            new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts),
            new StreamStates<PaymentEvent, PaymentState>(store, PaymentState.Initial, Payment.Evolve, EventCodecs.Payments),
            TimeProvider.System, new StreamLocks());

    private static BatchItem ToAda(AccountCommand command) =>
        new BatchItem.ToAccount(Ada, command, (state, _) => state.BalanceMinor, typeof(long), CommandContext.None);

    private Task<AtomicBatchOutcome> Run(params AccountCommand[] commands) => batches.RunAsync([.. commands.Select(ToAda)], Ct);

    private static IReadOnlyList<object> Accepted(AtomicBatchOutcome outcome) => Assert.IsType<AtomicBatchOutcome.Accepted>(outcome).Replies;

    [Fact]
    public async Task GivenAnUnsettledBatch_TheNextOnTheSameAccount_IsDecidedOnTheStateItLeaves_AndEachIsAnsweredOnlyAfterItsOwnCommit()
    {
        Accepted(await Run(Open(), Deposit(100)));
        store.BeforeGroup = _ => groupsWait.Task;
        var reads = store.StreamReads;

        var first = Run(Deposit(10), Deposit(20));
        var second = Run(Withdraw(125), Deposit(1)); // fits only on top of the first

        Assert.False(first.IsCompleted || second.IsCompleted);
        var (one, two) = (store.AppendsAsked[^2].Streams.Single(), store.AppendsAsked[^1].Streams.Single());
        Assert.Equal((2L, (Guid?)null), (one.ExpectedVersion, one.ExpectedLastEventId));
        Assert.Equal((4L, (Guid?)one.Events[^1].EventId), (two.ExpectedVersion, two.ExpectedLastEventId));
        Assert.Equal(reads, store.StreamReads);

        groupsWait.SetResult();
        Assert.Equal([110L, 130L], Accepted(await first));
        Assert.Equal([5L, 6L], Accepted(await second));
        Assert.Equal(6, StoredState(store).BalanceMinor);
    }

    [Fact]
    public async Task GivenAnUnsettledBatchThatFails_TheNextRestingOnIt_FailsToo_AndBothAreDecidedAgainOnTheStore()
    {
        Accepted(await Run(Open(), Deposit(100)));
        store.BeforeGroup = _ => groupsWait.Task;
        var first = Run(Deposit(10), Deposit(20));
        var second = Run(Withdraw(125)); // fits only on top of the first

        // Another server withdraws first: neither batch's append can commit on the version it expected.
        AnotherWriterAppends(store, new AccountEvent.MoneyWithdrawn(Ada, 50, "EUR", "elsewhere"));
        groupsWait.SetResult();

        // Both decided again after the other writer's withdrawal: the first still fits, the second no longer does.
        Assert.Equal([60L, 80L], Accepted(await first));
        var failed = Assert.IsType<AtomicBatchOutcome.Failed>(await second);
        Assert.Equal(0, failed.Index);
        Assert.IsType<AccountRejection.InsufficientFunds>(Assert.IsType<CommandOutcome<object>.Rejected>(failed.Outcome).Rejection);
        Assert.Equal((5, 80L), (store.Stream(AdaStream).Count, StoredState(store).BalanceMinor));
    }

    [Fact]
    public async Task ManyConcurrentBatchesOnOneAccount_ChainOnUnsettledAppends_AndEveryOneIsWrittenOnce()
    {
        Accepted(await Run(Open(), Deposit(1)));

        var outcomes = await Task.WhenAll(Enumerable.Range(1, 30).Select(_ => Task.Run(() => Run(Deposit(10), Deposit(5)))));

        Assert.All(outcomes, o => Accepted(o));
        Assert.Equal(1 + 30 * 15, StoredState(store).BalanceMinor);
        Assert.Equal(2 + 30 * 2, store.Stream(AdaStream).Count);
    }
}
