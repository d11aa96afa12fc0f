using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.Tests;

/// <summary>A reply with the balance, as the account service builds one.</summary>
internal sealed record BalanceReply(long Version, long BalanceMinor);

/// <summary>Ada's account commands on an in-memory event store, handled as the account service handles them.</summary>
internal static class AccountCommands
{
    public const string Ada = "ada";
    public static readonly string AdaStream = Account.StreamId(Ada);
    public static readonly CancellationToken Ct = CancellationToken.None;

    private static readonly ReplyWith<AccountState, BalanceReply> WithBalance = (state, version) => new(version, state.BalanceMinor);

    /// <summary>A command handler of its own (a server), with its own cache and locks, on <paramref name="store"/>.</summary>
    public static CommandHandler<AccountCommand, AccountEvent, AccountState> NewHandler(InMemoryEventStore store) =>
        new(store, Account.Decider, new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts),
            EventCodecs.Accounts, Account.StreamId, TimeProvider.System, new StreamLocks());

    public static Task<CommandOutcome<BalanceReply>> Run(
        CommandHandler<AccountCommand, AccountEvent, AccountState> handler, AccountCommand command, CommandContext? context = null,
        long? expectedVersion = null) =>
        handler.HandleAsync(Ada, command, context ?? CommandContext.None, WithBalance, Ct, expectedVersion);

    /// <summary>
    /// A spec's setup step: it must be accepted, or the spec would go on testing something other than it says, so a
    /// refusal fails the test, naming the command and its answer.
    /// </summary>
    public static async Task Given(
        CommandHandler<AccountCommand, AccountEvent, AccountState> handler, AccountCommand command, CommandContext? context = null)
    {
        var outcome = await Run(handler, command, context);
        if (outcome is not CommandOutcome<BalanceReply>.Accepted)
            Assert.Fail($"{command} was refused: {outcome}");
    }

    public static AccountCommand Open() => new AccountCommand.OpenAccount(Ada, "Ada Lovelace", "EUR");
    public static AccountCommand Deposit(long amount) => new AccountCommand.DepositMoney(Ada, amount, "EUR", "");
    public static AccountCommand Withdraw(long amount) => new AccountCommand.WithdrawMoney(Ada, amount, "EUR", "");

    /// <summary>Another server's append of <paramref name="e"/> at the next version of Ada's (or the named) account in <paramref name="store"/>.</summary>
    public static void AnotherWriterAppends(InMemoryEventStore store, AccountEvent e, string accountId = Ada)
    {
        var (type, json) = EventCodecs.Accounts.Encode(e);
        var stream = Account.StreamId(accountId);
        var result = store.Append(new AppendRequest(stream, store.Stream(stream).Count,
            [new EventData(Guid.NewGuid(), type, json, "{}")], null, DateTimeOffset.UnixEpoch));
        Assert.IsType<AppendResult.Appended>(result);
    }

    /// <summary>Ada's account as <paramref name="store"/> holds it.</summary>
    public static AccountState StoredState(InMemoryEventStore store) =>
        Account.Decider.Fold(store.Stream(AdaStream).Select(EventCodecs.Accounts.Decode));

    public static T Accepted<T>(CommandOutcome<T> outcome) => Assert.IsType<CommandOutcome<T>.Accepted>(outcome).Reply;

    public static TRejection Rejected<TRejection>(CommandOutcome<BalanceReply> outcome) =>
        Assert.IsType<TRejection>(Assert.IsType<CommandOutcome<BalanceReply>.Rejected>(outcome).Rejection);
}
