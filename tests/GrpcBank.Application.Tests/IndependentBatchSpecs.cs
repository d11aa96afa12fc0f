using GrpcBank.Application.Commands;
using GrpcBank.Domain.Accounts;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// An independent batch is decided in order, each command on the states the ones before it leave, and written as one
/// group of appends, one per command, each chained on the batch's last write to its streams. What it cannot answer (a
/// refusal, a lost guard, a logged request id, and whatever rests on those) is left for the single-command path.
/// </summary>
public sealed class IndependentBatchSpecs
{
    private readonly AdaAndBob bank = new();

    private readonly IndependentBatch batches;

    public IndependentBatchSpecs() =>
        batches = new IndependentBatch(bank.Store, bank.Accounts, bank.Payments, TimeProvider.System, bank.Locks);

    private static BatchItem ToAda(AccountCommand command, CommandContext? context = null) =>
        new BatchItem.ToAccount(Ada, command, (state, _) => state.BalanceMinor, typeof(long), context ?? CommandContext.None);

    private Task<IReadOnlyList<CommandOutcome<object>.Accepted?>> RunBatch(params BatchItem[] commands) => batches.RunAsync(commands, Ct);

    [Fact]
    public async Task GivenCommandsOnOneAccountAndATransfer_WhenRun_ThenEachIsDecidedOnWhatTheOnesBeforeItLeave_AndAllAreWrittenInOneGroup()
    {
        await bank.OpenBothAsync(100);
        var (groups, reads) = (bank.Store.GroupsAsked.Count, bank.Store.StreamReads);

        // The withdrawal is covered only by the deposit before it; the transfer only after both.
        var answers = await RunBatch(ToAda(Deposit(10)), ToAda(Withdraw(105)), AdaAndBob.AdaPaysBob(5), ToAda(Deposit(1)));

        Assert.Equal(new object[] { 110L, 5L, 5L, 1L }, answers.Select(a => a!.Reply));
        var group = Assert.Single(bank.Store.GroupsAsked.Skip(groups));
        Assert.Equal(4, group.Count);
        Assert.Equal(reads, bank.Store.StreamReads);
        // Each write to Ada's stream rests on the batch's write before it there.
        var adaWrites = group.Select(a => a.Streams.Single(s => s.StreamId == AdaStream)).ToList();
        Assert.Equal([2L, 3L, 4L, 5L], adaWrites.Select(w => w.ExpectedVersion));
        Assert.Null(adaWrites[0].ExpectedLastEventId);
        for (var i = 1; i < adaWrites.Count; i++) Assert.Equal(adaWrites[i - 1].Events[^1].EventId, adaWrites[i].ExpectedLastEventId);
        Assert.Equal([.. answers.Select(a => a!.Position)], answers.Select(a => a!.Position).Order());
        Assert.Equal(1, StoredState(bank.Store).BalanceMinor);

        // The cache holds what the batch left: the next command decides on it without reading.
        Assert.Equal(new BalanceReply(7, 2), Accepted(await Run(bank.Handler, Deposit(1))));
        Assert.Equal(reads, bank.Store.StreamReads);
    }

    [Fact]
    public async Task GivenARefusedCommand_WhenRun_ThenItIsLeftUnanswered_AndTheOnesAfterItAreDecidedWithoutIt()
    {
        await bank.OpenBothAsync(100);

        var answers = await RunBatch(ToAda(Withdraw(500)), ToAda(Deposit(10)));

        Assert.Null(answers[0]);
        Assert.Equal(110L, answers[1]!.Reply);
        Assert.Equal(110, StoredState(bank.Store).BalanceMinor);
    }

    [Fact]
    public async Task GivenTheGroupsWriteFails_WhenRun_ThenEachOfItsCommandsIsCountedAsAnError()
    {
        await bank.OpenBothAsync(100);
        bank.Store.BeforeGroup = _ => throw new IOException("connection reset by peer");
        var counted = new List<string>();
        using var listener = FlowMeasurements.Commands(counted);

        // The batch's caller answers each of them with the fault (UNAVAILABLE); an operator must see them among the errors.
        await Assert.ThrowsAsync<IOException>(() => RunBatch(ToAda(Deposit(10)), ToAda(Withdraw(20))));

        Assert.Equal(["DepositMoney error", "WithdrawMoney error"], counted);
    }

    [Fact]
    public async Task GivenAnotherWriterGotToAStreamFirst_WhenRun_ThenItsCommandsAreLeftUnanswered_TheOthersWritten_AndTheCacheReadAgain()
    {
        await bank.OpenBothAsync(100);
        AnotherWriterAppends(bank.Store, new AccountEvent.MoneyDeposited(Ada, 50, "EUR", ""));

        var answers = await RunBatch(ToAda(Deposit(1)),
            new BatchItem.ToAccount(AdaAndBob.Bob, new AccountCommand.DepositMoney(AdaAndBob.Bob, 4, "EUR", ""), (state, _) => state.BalanceMinor, typeof(long), CommandContext.None),
            AdaAndBob.AdaPaysBob(2), ToAda(Deposit(3)));

        // Every write to Ada's stream lost its guard (the first to the other writer, the rest resting on it); Bob's deposit did not.
        Assert.Equal([true, false, true, true], answers.Select(a => a is null));
        Assert.Equal(4L, answers[1]!.Reply);
        Assert.Equal(150, StoredState(bank.Store).BalanceMinor);
        // Single commands then see what the store holds.
        Assert.Equal(new BalanceReply(4, 151), Accepted(await Run(bank.Handler, Deposit(1))));
    }

    [Fact]
    public async Task GivenACommandWhoseRequestIdIsLogged_WhenRun_ThenItAndWhatRestsOnItAreLeftUnanswered_AndNothingIsWrittenTwice()
    {
        await bank.OpenBothAsync(100);
        var retried = new CommandContext(RequestId: "r-1", Fingerprint: "f-1");
        Accepted(await Run(bank.Handler, Deposit(10), retried));

        var answers = await RunBatch(ToAda(Deposit(10), retried), ToAda(Deposit(5)));

        Assert.Equal([true, true], answers.Select(a => a is null));
        Assert.Equal(110, StoredState(bank.Store).BalanceMinor);
    }
}
