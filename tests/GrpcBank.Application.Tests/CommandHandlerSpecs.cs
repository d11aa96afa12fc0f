using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The command path on an in-memory event store: one round trip on a warm stream, other writers met at the version
/// check, answers that write nothing re-checked on a fresh read, request ids replayed, bounded retries.
/// </summary>
public sealed class CommandHandlerSpecs
{
    private readonly InMemoryEventStore store = new();

    private CommandHandler<AccountCommand, AccountEvent, AccountState> NewHandler() => AccountCommands.NewHandler(store);

    private void AnotherWriterAppends(AccountEvent e) => AccountCommands.AnotherWriterAppends(store, e);

    private AccountState StoredState() => AccountCommands.StoredState(store);

    private void AnotherWriterAppendsBeforeEveryAppend() => store.BeforeAppend = _ =>
    {
        AnotherWriterAppends(new AccountEvent.MoneyDeposited(Ada, 1, "EUR", "elsewhere"));
        return Task.CompletedTask;
    };

    [Fact]
    public async Task GivenAWarmStream_WhenADepositIsHandled_ThenItIsOneAppendAndNoRead()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        var reads = store.StreamReads;
        var appends = store.AppendsAsked.Count;

        var outcome = await Run(handler, Deposit(100));

        Assert.Equal(new BalanceReply(2, 100), Accepted(outcome));
        Assert.Equal(reads, store.StreamReads);
        Assert.Equal(appends + 1, store.AppendsAsked.Count);
    }

    [Fact]
    public async Task GivenAWriterTheCacheMissed_WhenADepositIsHandled_ThenTheConflictIsRetriedAfterIt()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, Deposit(100));
        AnotherWriterAppends(new AccountEvent.MoneyDeposited(Ada, 50, "EUR", "elsewhere"));
        var appends = store.AppendsAsked.Count;

        var outcome = await Run(handler, Deposit(25));

        Assert.Equal(new BalanceReply(4, 175), Accepted(outcome));
        Assert.Equal(appends + 2, store.AppendsAsked.Count);
        Assert.Equal(175, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task GivenAWriterTheCacheMissed_WhenAWithdrawalNoLongerFits_ThenItIsRejected_AndWritesNothing()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, Deposit(100));
        AnotherWriterAppends(new AccountEvent.MoneyWithdrawn(Ada, 100, "EUR", "elsewhere"));

        var outcome = await Run(handler, Withdraw(50), new CommandContext("w-1", "fingerprint"));

        Rejected<AccountRejection.InsufficientFunds>(outcome);
        Assert.Equal(3, store.Stream(AdaStream).Count);
        Assert.Null(await store.FindRequestAsync("w-1", Ct));
    }

    [Fact]
    public async Task GivenAStaleCache_WhenItWouldRejectTheCommand_ThenItIsDecidedAgainOnAFreshRead_AndAccepted()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        AnotherWriterAppends(new AccountEvent.MoneyDeposited(Ada, 100, "EUR", "elsewhere"));
        var appends = store.AppendsAsked.Count;

        var outcome = await Run(handler, Withdraw(60));

        Assert.Equal(new BalanceReply(3, 40), Accepted(outcome));
        Assert.Equal(appends + 1, store.AppendsAsked.Count);
    }

    [Fact]
    public async Task GivenAStaleCache_WhenItWouldCallTheCommandANoOp_ThenItIsDecidedAgainOnAFreshRead()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, new AccountCommand.FreezeAccount(Ada, "audit"));
        AnotherWriterAppends(new AccountEvent.AccountUnfrozen(Ada));

        var outcome = await Run(handler, new AccountCommand.FreezeAccount(Ada, "audit again"));

        Assert.Equal(4, Accepted(outcome).Version);
        Assert.Equal(AccountStatus.Frozen, StoredState().Status);
    }

    [Fact]
    public async Task ARetriedRequestId_GetsTheFirstReply_WithItsBalanceAndPosition_AndAppendsNothing()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        var context = new CommandContext("dep-1", "fingerprint-of-the-deposit");
        var first = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(handler, Deposit(100), context));
        await Given(handler, Deposit(900));
        var events = store.Stream(AdaStream).Count;

        var warm = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(handler, Deposit(100), context));
        var cold = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(NewHandler(), Deposit(100), context));

        Assert.Equal(new BalanceReply(2, 100), first.Reply);
        Assert.False(first.Replayed);
        Assert.All([warm, cold], retry => Assert.Equal(first with { Replayed = true }, retry));
        Assert.Equal(events, store.Stream(AdaStream).Count);
        Assert.Equal(1_000, StoredState().BalanceMinor);
    }

    /// <summary>A retry is answered from the request log before it is decided: what the state now refuses was done already.</summary>
    [Fact]
    public async Task ARetriedWithdrawal_ThatTheBalanceNowRefuses_GetsItsFirstReply_NotTheRefusal()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, Deposit(100));
        var context = new CommandContext("wd-1", "fingerprint-of-the-withdrawal");
        var first = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(handler, Withdraw(100), context));

        var retry = await Run(handler, Withdraw(100), context);

        Assert.Equal(first with { Replayed = true }, retry);
        Assert.Equal(0, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task ARetriedRequestIdOfANoOp_GetsTheFirstReply_NotTheNoOpsAnswer()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        var context = new CommandContext("freeze-1", "fingerprint-of-the-freeze");
        var first = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(handler, new AccountCommand.FreezeAccount(Ada, "audit"), context));
        await Given(handler, new AccountCommand.UnfreezeAccount(Ada));
        await Given(handler, new AccountCommand.FreezeAccount(Ada, "again"));

        var retry = await Run(handler, new AccountCommand.FreezeAccount(Ada, "audit"), context);

        Assert.Equal(first with { Replayed = true }, retry);
    }

    [Fact]
    public async Task ANoOpsRequestId_IsSpent_ItsRetryGetsItsReplyAfterTheStateMovedOn_AndAnotherCommandWithItIsRefused()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, new AccountCommand.FreezeAccount(Ada, "audit"));
        var context = new CommandContext("freeze-2", "fingerprint-of-the-second-freeze");
        var noOp = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(handler, new AccountCommand.FreezeAccount(Ada, "audit"), context));
        var events = store.Stream(AdaStream).Count;
        await Given(handler, new AccountCommand.UnfreezeAccount(Ada));

        var retry = await Run(handler, new AccountCommand.FreezeAccount(Ada, "audit"), context);
        var reused = await Run(handler, Deposit(100), new CommandContext("freeze-2", "fingerprint-of-a-deposit"));

        Assert.Equal(noOp with { Replayed = true }, retry);
        Assert.Equal(2, noOp.Reply.Version);
        Assert.Equal("freeze-2", Assert.IsType<CommandOutcome<BalanceReply>.RequestIdReused>(reused).RequestId);
        Assert.Equal(events + 1, store.Stream(AdaStream).Count); // the unfreeze alone: the retry wrote nothing, the deposit nothing
        Assert.Equal(AccountStatus.Active, StoredState().Status);
    }

    [Fact]
    public async Task AReplyLoggedInTheEarlierShape_StillReplays()
    {
        // Before replies were built by their callers every logged reply had this shape (position 0: the log keeps it).
        const string earlier = """{"aggregateId":"ada","version":2,"position":0,"balanceMinor":100}""";
        var (type, json) = EventCodecs.Accounts.Encode(new AccountEvent.AccountOpened(Ada, "Ada Lovelace", "EUR"));
        store.Append(new AppendRequest(AdaStream, 0, [new EventData(Guid.NewGuid(), type, json, "{}")],
            new RequestLogEntry("old-1", "fingerprint", earlier), DateTimeOffset.UnixEpoch));
        var context = new CommandContext("old-1", "fingerprint");

        var stream = await NewHandler().HandleAsync(Ada, Deposit(100), context, StreamReply.For<AccountState>(Ada), Ct);
        var balance = await Run(NewHandler(), Deposit(100), context);

        Assert.Equal(new CommandOutcome<StreamReply>.Accepted(new StreamReply(Ada, 2), 1, Replayed: true), stream);
        Assert.Equal(new CommandOutcome<BalanceReply>.Accepted(new BalanceReply(2, 100), 1, Replayed: true), balance);
        Assert.Single(store.Stream(AdaStream));
    }

    [Fact]
    public async Task ARequestIdReusedForAnotherRequest_IsRefused_AndWritesNothing()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, Deposit(100), new CommandContext("dep-1", "fingerprint-of-the-deposit"));
        var events = store.Stream(AdaStream).Count;

        var outcome = await Run(handler, Deposit(5), new CommandContext("dep-1", "fingerprint-of-another-deposit"));

        Assert.Equal(new CommandOutcome<BalanceReply>.RequestIdReused("dep-1"), outcome);
        Assert.Equal(events, store.Stream(AdaStream).Count);
        Assert.Equal(100, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task ARejection_WritesNothing_NotEvenTheRequestLog_SoItsRetryIsDecidedAfresh()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        var context = new CommandContext("wd-1", "fingerprint-of-the-withdrawal");
        var appends = store.AppendsAsked.Count;

        var rejected = await Run(handler, Withdraw(50), context);

        Rejected<AccountRejection.InsufficientFunds>(rejected);
        Assert.Equal(appends, store.AppendsAsked.Count);
        Assert.Equal(0, store.RequestLogSize);
        Assert.Single(store.Stream(AdaStream));

        await Given(handler, Deposit(80));
        Assert.Equal(new BalanceReply(3, 30), Accepted(await Run(handler, Withdraw(50), context)));
    }

    [Fact]
    public async Task WhenEveryAppendLosesToAnotherWriter_ThenAfterTheBoundedRetriesItIsAConflict_AndNothingOfItIsWritten()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        var appends = store.AppendsAsked.Count;
        AnotherWriterAppendsBeforeEveryAppend();

        var outcome = await Run(handler, Deposit(100), new CommandContext("dep-1", "fingerprint"));

        var conflict = Assert.IsType<CommandOutcome<BalanceReply>.WrongExpectedVersion>(outcome);
        Assert.Equal(CommandHandler<AccountCommand, AccountEvent, AccountState>.MaxAppends, store.AppendsAsked.Count - appends);
        Assert.Equal((conflict.ActualVersion - 1, 1 + CommandHandler<AccountCommand, AccountEvent, AccountState>.MaxAppends),
            (conflict.ExpectedVersion, conflict.ActualVersion));
        Assert.Equal(CommandHandler<AccountCommand, AccountEvent, AccountState>.MaxAppends, StoredState().BalanceMinor);
        Assert.Null(await store.FindRequestAsync("dep-1", Ct));
    }

    /// <summary>
    /// A retry decided on a stale fold writes again, and the store reports the stale guard before the logged request id
    /// (PostgreSQL does too): a done request retried while other servers keep writing its stream lost every append and
    /// was answered ABORTED, not with its first reply.
    /// </summary>
    [Fact]
    public async Task ARetriedRequestId_WhoseEveryAppendLosesToAnotherWriter_GetsTheFirstReply_NotAConflict()
    {
        var (handler, context) = (NewHandler(), new CommandContext("dep-1", "fingerprint-of-the-deposit"));
        await Given(handler, Open());
        var first = Assert.IsType<CommandOutcome<BalanceReply>.Accepted>(await Run(handler, Deposit(100), context));
        AnotherWriterAppendsBeforeEveryAppend();

        var retried = await Run(handler, Deposit(100), context);

        Assert.Equal(first with { Replayed = true }, retried);
        Assert.Equal(100 + CommandHandler<AccountCommand, AccountEvent, AccountState>.MaxAppends, StoredState().BalanceMinor);
    }

    [Fact]
    public async Task GivenAnExpectedVersion_WhenTheStreamHasMovedOn_ThenItIsAConflict_AndWritesNothing()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        await Given(handler, Deposit(100));

        var outcome = await Run(handler, Withdraw(10), expectedVersion: 1);

        Assert.Equal(new CommandOutcome<BalanceReply>.WrongExpectedVersion(1, 2), outcome);
        Assert.Equal(100, StoredState().BalanceMinor);
        Assert.Equal(new BalanceReply(3, 90), Accepted(await Run(handler, Withdraw(10), expectedVersion: 2)));
    }

    [Fact]
    public async Task ConcurrentCommandsOnOneStream_QueueBehindItsLock_AndNeverConflict()
    {
        var handler = NewHandler();
        await Given(handler, Open());
        var appends = store.AppendsAsked.Count;

        var outcomes = await Task.WhenAll(Enumerable.Range(1, 50).Select(_ => Task.Run(() => Run(handler, Deposit(10)))));

        Assert.Equal(Enumerable.Range(2, 50).Select(v => (long)v), outcomes.Select(o => Accepted(o).Version).Order());
        Assert.Equal(50, store.AppendsAsked.Count - appends);
        Assert.Equal(500, StoredState().BalanceMinor);
    }
}
