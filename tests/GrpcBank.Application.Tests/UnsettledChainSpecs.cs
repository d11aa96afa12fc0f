using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The committed fold beneath a chain of unsettled appends on one stream, which the cache rolls back to when an append
/// of the chain fails: the commits of one group are taken in out of order (each caller is answered on its own thread),
/// and only ever move it forward.
/// </summary>
public sealed class UnsettledChainSpecs
{
    private const string Stream = "account-ada";

    [Fact]
    public async Task CommitsTakenInOutOfOrder_LeaveTheNewestAsTheCommittedFoldBeneath_ThatAFailureRollsBackTo()
    {
        var states = new StreamStates<AccountEvent, AccountState>(new InMemoryEventStore(), Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts);
        var chain = new List<(TaskCompletionSource<AppendResult> Answer, Task Settled)>();
        for (var version = 1; version <= 3; version++)
        {
            var answer = new TaskCompletionSource<AppendResult>();
            var after = new Folded<AccountState>(Account.Decider.Initial, version, version);
            chain.Add((answer, states.RememberUnsettled(Stream, states.CachedOrEmpty(Stream), after, Guid.NewGuid(), answer.Task)));
        }

        // The second's commit taken in before the first's; then the third fails.
        foreach (var version in new[] { 2, 1 })
        {
            chain[version - 1].Answer.SetResult(new AppendResult.Appended([new StreamVersion(Stream, version)], version));
            await chain[version - 1].Settled;
        }
        chain[2].Answer.SetException(new IOException("connection lost: outcome unknown"));
        await chain[2].Settled;

        var rolledBack = states.CachedOrEmpty(Stream);
        Assert.Equal((2L, (Unsettled<AccountState>?)null), (rolledBack.Version, rolledBack.Unsettled));
    }
}
