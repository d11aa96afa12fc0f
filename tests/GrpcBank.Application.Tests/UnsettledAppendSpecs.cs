using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The next command on a stream is decided on the state an append leaves as soon as that append is handed to the group
/// commit, not once it commits (StreamStates.RememberUnsettled): its append rests on the earlier one (expected version
/// and last event), it is answered only after its own commit, and when the earlier append fails the cache is rolled back
/// and the later command decided again on what the store holds. Atomic batches over the same accounts chain the same way.
/// </summary>
public sealed class UnsettledAppendSpecs
{
    private readonly InMemoryEventStore store = new(grouped: true);

    /// <summary>Held: every group waits for it before it is written.</summary>
    private readonly TaskCompletionSource groupsWait = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly CommandHandler<AccountCommand, AccountEvent, AccountState> handler;

    private readonly AtomicBatch batches;

    public UnsettledAppendSpecs()
    {
        handler = NewHandler(store);
        batches = new AtomicBatch(store,
            new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts),
            new StreamStates<PaymentEvent, PaymentState>(store, PaymentState.Initial, Payment.Evolve, EventCodecs.Payments),
            TimeProvider.System, new StreamLocks(), rejection => rejection.ToString());
    }

    private Task<CommandOutcome<BalanceReply>> Run(AccountCommand command, CommandContext? context = null) =>
        AccountCommands.Run(handler, command, context);

    private async Task OpenWithAsync(long balance, CommandContext? context = null)
    {
        Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(Open()));
        Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(Deposit(balance), context));
    }

    private void HoldGroups() => store.BeforeGroup = _ => groupsWait.Task;

    private AccountState StoredState() => AccountCommands.StoredState(store);

    /// <summary>
    /// Both decided and handed to the store without waiting for a commit or reading the stream since
    /// <paramref name="readsBefore"/>; neither answered before durable; the second's append expects the first's last event.
    /// </summary>
    private void AssertTheSecondRestsOnTheFirst(Task first, Task second, long firstExpects, long secondExpects, int readsBefore)
    {
        Assert.False(first.IsCompleted || second.IsCompleted);
        var (one, two) = (store.AppendsAsked[^2].Streams.Single(), store.AppendsAsked[^1].Streams.Single());
        Assert.Equal((firstExpects, (Guid?)null), (one.ExpectedVersion, one.ExpectedLastEventId));
        Assert.Equal((secondExpects, (Guid?)one.Events[^1].EventId), (two.ExpectedVersion, two.ExpectedLastEventId));
        Assert.Equal(readsBefore, store.StreamReads);
    }

    [Fact]
    public async Task GivenAnUnsettledDeposit_TheNextCommandIsDecidedOnTheStateItLeaves_AndAnsweredOnlyAfterItsOwnCommit()
    {
        await OpenWithAsync(100);
        HoldGroups();
        var reads = store.StreamReads;

        var first = Run(Deposit(10));
        var second = Run(Withdraw(105));

        AssertTheSecondRestsOnTheFirst(first, second, firstExpects: 2, secondExpects: 3, reads);

        groupsWait.SetResult();
        Assert.Equal(new BalanceReply(3, 110), Accepted(await first));
        Assert.Equal(new BalanceReply(4, 5), Accepted(await second));
        Assert.Equal(5, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task GivenAnUnsettledAppendThatFails_ALaterOneRestingOnIt_FailsToo_EvenAtTheSameVersion_AndIsDecidedAgainOnTheStore()
    {
        await OpenWithAsync(100);
        HoldGroups();
        var first = Run(Deposit(10));
        var second = Run(Withdraw(105)); // fits only on top of the deposit

        // Another server withdraws first: the stream reaches version 3, the version the withdrawal expects, without the deposit.
        Assert.Equal(2, store.Stream(AdaStream).Count);
        AnotherWriterAppends(store, new AccountEvent.MoneyWithdrawn(Ada, 50, "EUR", "elsewhere"));
        groupsWait.SetResult();

        // The deposit is decided again after the other writer's withdrawal; the withdrawal no longer fits, and never was written.
        Assert.Equal(new BalanceReply(4, 60), Accepted(await first));
        Rejected<AccountRejection.InsufficientFunds>(await second);
        Assert.Equal((4, 60L), (store.Stream(AdaStream).Count, StoredState().BalanceMinor));
    }

    [Fact]
    public async Task GivenAnUnsettledAppendThatFails_TheCacheIsRolledBack_SoTheNextCommandIsOneAppendOnTheCommittedState()
    {
        var context = new CommandContext("dep-1", "fingerprint-of-the-deposit");
        await OpenWithAsync(100, context);
        HoldGroups();

        // The same request again: decided on the cache and appended, the request log refuses it; the first reply comes back.
        var retried = Run(Deposit(100), context);
        groupsWait.SetResult();
        Assert.Equal(new BalanceReply(2, 100), Accepted(await retried));

        var (appends, reads) = (store.AppendsAsked.Count, store.StreamReads);
        Assert.Equal(new BalanceReply(3, 105), Accepted(await Run(Deposit(5))));
        Assert.Equal((appends + 1, reads), (store.AppendsAsked.Count, store.StreamReads));
        Assert.Equal(105, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task GivenAnUnsettledAppend_ARejectionWaitsForIt_AndIsDecidedOnTheCommittedState()
    {
        await OpenWithAsync(100);
        HoldGroups();
        var deposit = Run(Deposit(10));

        // Too much even on top of the deposit: a rejection is only answered on what the store holds, after the deposit settled.
        var rejected = Run(Withdraw(500));
        Assert.False(rejected.IsCompleted);
        groupsWait.SetResult();

        Assert.Equal(new BalanceReply(3, 110), Accepted(await deposit));
        var insufficient = Rejected<AccountRejection.InsufficientFunds>(await rejected);
        Assert.Equal(110, insufficient.BalanceMinor);
    }

    [Fact]
    public async Task ManyConcurrentCommandsOnOneStream_ChainOnUnsettledAppends_AndEveryOneIsWrittenOnce()
    {
        await OpenWithAsync(1);

        var outcomes = await Task.WhenAll(Enumerable.Range(1, 50).Select(_ => Task.Run(() => Run(Deposit(10)))));

        Assert.Equal(Enumerable.Range(3, 50).Select(v => (long)v), outcomes.Select(o => Accepted(o).Version).Order());
        Assert.Equal(501, StoredState().BalanceMinor);
        Assert.Equal(52, store.Stream(AdaStream).Count);
    }

    private static BatchItem ToAda(AccountCommand command, CommandContext? context = null) =>
        new BatchItem.ToAccount(Ada, command, (state, _) => state.BalanceMinor, typeof(long), context ?? CommandContext.None);

    private Task<AtomicBatchOutcome> RunBatch(params AccountCommand[] commands) => batches.RunAsync([.. commands.Select(c => ToAda(c))], Ct);

    private static IReadOnlyList<object> AcceptedBatch(AtomicBatchOutcome outcome) => Assert.IsType<AtomicBatchOutcome.Accepted>(outcome).Replies;

    [Fact]
    public async Task GivenAnUnsettledAtomicBatch_TheNextOnTheSameAccount_IsDecidedOnTheStateItLeaves_AndEachIsAnsweredOnlyAfterItsOwnCommit()
    {
        AcceptedBatch(await RunBatch(Open(), Deposit(100)));
        HoldGroups();
        var reads = store.StreamReads;

        var first = RunBatch(Deposit(10), Deposit(20));
        var second = RunBatch(Withdraw(125), Deposit(1)); // fits only on top of the first

        AssertTheSecondRestsOnTheFirst(first, second, firstExpects: 2, secondExpects: 4, reads);

        groupsWait.SetResult();
        Assert.Equal([110L, 130L], AcceptedBatch(await first));
        Assert.Equal([5L, 6L], AcceptedBatch(await second));
        Assert.Equal(6, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task GivenAnAtomicBatchWhoseAppendFails_EachOfItsCommandsIsCountedAsAnError()
    {
        AcceptedBatch(await RunBatch(Open(), Deposit(100)));
        store.BeforeGroup = _ => throw new IOException("connection reset by peer");
        var counted = new List<string>();
        using var listener = FlowMeasurements.Commands(counted);

        // The call is answered with the fault (UNAVAILABLE); an operator must see its commands among the errors.
        await Assert.ThrowsAsync<IOException>(() => RunBatch(Deposit(10), Withdraw(20)));

        Assert.Equal(["DepositMoney error", "WithdrawMoney error"], counted);
    }

    /// <summary>
    /// As a single command's (CommandHandlerSpecs): a batch retried on a stale fold writes again, and the store reports the
    /// stale guard before the logged request ids, so while another writer kept writing its account the retry of a done
    /// batch lost every append and was refused ABORTED, not answered with its first replies.
    /// </summary>
    [Fact]
    public async Task GivenAnAtomicBatchSentAgain_WhoseEveryAppendLosesToAnotherWriter_ItGetsItsFirstReplies_NotAConflict()
    {
        AcceptedBatch(await RunBatch(Open(), Deposit(100)));
        BatchItem[] batch = [ToAda(Deposit(10), new("dep-1", "f-1")), ToAda(Withdraw(20), new("wd-1", "f-2"))];
        var first = AcceptedBatch(await batches.RunAsync(batch, Ct));
        store.BeforeGroup = _ =>
        {
            AccountCommands.AnotherWriterAppends(store, new AccountEvent.MoneyDeposited(Ada, 1, "EUR", "elsewhere"));
            return Task.CompletedTask;
        };

        var retried = Assert.IsType<AtomicBatchOutcome.Accepted>(await batches.RunAsync(batch, Ct));

        Assert.True(retried.Replayed);
        Assert.Equal(first, retried.Replies);
    }

    [Fact]
    public async Task GivenAnAtomicBatchSentAgainWithItsRequestIds_EachOfItsCommandsIsCountedAccepted_AsARetriedSingleCommandIs()
    {
        AcceptedBatch(await RunBatch(Open(), Deposit(100)));
        BatchItem[] batch = [ToAda(Deposit(10), new("dep-1", "f-1")), ToAda(Withdraw(20), new("wd-1", "f-2"))];
        AcceptedBatch(await batches.RunAsync(batch, Ct));
        var counted = new List<string>();
        using var listener = FlowMeasurements.Commands(counted);

        // A retry answered from the request log: a retried single command counts as accepted again (its span says
        // replayed), so the batch's commands must count so too, or a client's retries vanish from the command rate.
        var retried = Assert.IsType<AtomicBatchOutcome.Accepted>(await batches.RunAsync(batch, Ct));

        Assert.True(retried.Replayed);
        Assert.Equal(["DepositMoney accepted", "WithdrawMoney accepted"], counted);
    }

    [Fact]
    public async Task GivenAnUnsettledAtomicBatchThatFails_TheNextRestingOnIt_FailsToo_AndBothAreDecidedAgainOnTheStore()
    {
        AcceptedBatch(await RunBatch(Open(), Deposit(100)));
        HoldGroups();
        var first = RunBatch(Deposit(10), Deposit(20));
        var second = RunBatch(Withdraw(125)); // fits only on top of the first

        // Another server withdraws first: neither batch's append can commit on the version it expected.
        AnotherWriterAppends(store, new AccountEvent.MoneyWithdrawn(Ada, 50, "EUR", "elsewhere"));
        groupsWait.SetResult();

        // Both decided again after the other writer's withdrawal: the first still fits, the second no longer does.
        Assert.Equal([60L, 80L], AcceptedBatch(await first));
        var failed = Assert.IsType<AtomicBatchOutcome.Failed>(await second);
        Assert.Equal(0, failed.Index);
        Assert.IsType<AccountRejection.InsufficientFunds>(Assert.IsType<CommandOutcome<object>.Rejected>(failed.Outcome).Rejection);
        Assert.Equal((5, 80L), (store.Stream(AdaStream).Count, StoredState().BalanceMinor));
    }

    [Fact]
    public async Task ManyConcurrentAtomicBatchesOnOneAccount_ChainOnUnsettledAppends_AndEveryOneIsWrittenOnce()
    {
        AcceptedBatch(await RunBatch(Open(), Deposit(1)));

        var outcomes = await Task.WhenAll(Enumerable.Range(1, 30).Select(_ => Task.Run(() => RunBatch(Deposit(10), Deposit(5)))));

        Assert.All(outcomes, o => AcceptedBatch(o));
        Assert.Equal(1 + 30 * 15, StoredState().BalanceMinor);
        Assert.Equal(2 + 30 * 2, store.Stream(AdaStream).Count);
    }
}
