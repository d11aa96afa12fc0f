using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.Accounts;

/// <summary>The account command handler, wired to the Account decider.</summary>
public sealed class AccountCommands(IEventStore store, TimeProvider clock, StreamLocks locks)
{
    private readonly CommandHandler<AccountCommand, AccountEvent, AccountState> handler =
        new(store, Account.Decider, AccountProjection.Codec, s => s.BalanceMinor, clock, locks);

    public Task<CommandOutcome> HandleAsync(
        string accountId, AccountCommand command, CommandContext context, long? expectedVersion, CancellationToken ct) =>
        handler.HandleAsync(accountId, Account.StreamId(accountId), command, context, expectedVersion, ct);

    public Task<Folded<AccountState>> LoadAsync(string accountId, CancellationToken ct) =>
        handler.LoadAsync(Account.StreamId(accountId), ct);
}
