using System.Diagnostics;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.Stores.Tests;

/// <summary>
/// Two servers on one store, each with its own handlers (cached folds, locks) over its own store instance: one that has
/// lost a race to the other follows the other's appends into its folds (OtherWriters), so its next command on a stream
/// the other wrote appends once; a lone server never reads the global order for it; following stops once this server's
/// decisions no longer meet the other's appends.
/// </summary>
public abstract partial class EventStoreConformance
{
    private static readonly ReplyWith<AccountState, long> VersionReply = (_, version) => version;

    private static async Task<long> DepositAsync(Handlers server, string accountId) =>
        Assert.IsType<CommandOutcome<long>.Accepted>(await server.Accounts.HandleAsync(accountId,
            new AccountCommand.DepositMoney(accountId, 100, "EUR", ""), new CommandContext(RequestId: Guid.NewGuid().ToString()), VersionReply, Ct)).Reply;

    private static Handlers Server(IEventStore store) => new(store, TimeProvider.System, new StreamLocks(), rejection => rejection.ToString());

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        for (var waited = 0; !condition(); waited += 10)
        {
            Assert.True(waited < 30_000, $"not within 30 s: {what}");
            await Task.Delay(10, Ct);
        }
    }

    [Fact]
    public async Task AServerThatLostARaceToAnother_FollowsItsAppends_SoItsNextCommandThereAppendsOnce()
    {
        var mine = new CountingStore(Store);
        var theirs = await CreateStoreAsync();
        try
        {
            var (a, b) = (Server(mine), Server(theirs));
            a.OtherWriters.Quiet = TimeSpan.FromSeconds(30); // following lasts the test, however slow the store's settled position
            await a.OtherWriters.StartAsync(Ct);
            Assert.IsType<CommandOutcome<long>.Accepted>(await a.Accounts.HandleAsync("ada",
                new AccountCommand.OpenAccount("ada", "Ada Lovelace", "EUR"), CommandContext.None, VersionReply, Ct));
            Assert.Equal(2, await DepositAsync(b, "ada"));
            Assert.False(a.OtherWriters.Following);
            Assert.Equal(0, mine.GlobalReads);

            // A decides on its cached version 1, is refused, reads the stream and appends again: now it knows of B.
            Assert.Equal(3, await DepositAsync(a, "ada"));
            Assert.Equal(1, mine.Refusals);
            await UntilAsync(() => a.OtherWriters.Following, "A follows the store");

            Assert.Equal(4, await DepositAsync(b, "ada")); // B loses its own race (it follows nobody here)
            await UntilAsync(() => a.OtherWriters.Followed >= 1, "A takes B's deposit into its fold");
            Assert.Equal(5, await DepositAsync(a, "ada"));
            Assert.Equal(1, mine.Refusals);
            await a.OtherWriters.StopAsync(Ct);
        }
        finally
        {
            if (theirs is IAsyncDisposable disposable) await disposable.DisposeAsync();
        }
    }

    [Fact]
    public async Task FollowingStops_WhenTheOtherServerWritesOnlyStreamsThisOneNoLongerWrites()
    {
        var theirs = await CreateStoreAsync();
        try
        {
            var (a, b) = (Server(Store), Server(theirs));
            // Long enough to take B's deposits in first however slow the machine or a store's settled position (PostgreSQL
            // holds it back while any transaction in the cluster is open), then short, below, to see following stop.
            a.OtherWriters.Quiet = TimeSpan.FromSeconds(30);
            await a.OtherWriters.StartAsync(Ct);
            foreach (var id in new[] { "ada", "bob" })
                Assert.IsType<CommandOutcome<long>.Accepted>(await a.Accounts.HandleAsync(id,
                    new AccountCommand.OpenAccount(id, "Someone", "EUR"), CommandContext.None, VersionReply, Ct));
            await DepositAsync(b, "ada");
            await DepositAsync(a, "ada"); // refused once: A follows
            await UntilAsync(() => a.OtherWriters.Following, "A follows the store");

            // B goes on with bob only, whose fold A caches but A no longer decides on: A takes B's deposits in, then stops.
            var followedBefore = a.OtherWriters.Followed;
            await DepositAsync(b, "bob");
            await UntilAsync(() => a.OtherWriters.Followed > followedBefore, "A takes B's deposit to bob into its fold");
            a.OtherWriters.Quiet = TimeSpan.FromMilliseconds(300);
            var writing = Stopwatch.StartNew();
            while (a.OtherWriters.Following)
            {
                Assert.True(writing.Elapsed < TimeSpan.FromSeconds(10), "A still follows 10 s after its last decision on another's append");
                await DepositAsync(b, "bob");
                await Task.Delay(20, Ct);
            }
        }
        finally
        {
            if (theirs is IAsyncDisposable disposable) await disposable.DisposeAsync();
        }
    }

    [Fact]
    public async Task ALoneServer_NeverFollowsTheStore()
    {
        var mine = new CountingStore(Store);
        var server = Server(mine);
        await server.OtherWriters.StartAsync(Ct);
        Assert.IsType<CommandOutcome<long>.Accepted>(await server.Accounts.HandleAsync("ada",
            new AccountCommand.OpenAccount("ada", "Ada Lovelace", "EUR"), CommandContext.None, VersionReply, Ct));
        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => DepositAsync(server, "ada")));

        await Task.Delay(100, Ct);
        Assert.Equal((0, 0, false), (mine.Refusals, mine.GlobalReads, server.OtherWriters.Following));
        await server.OtherWriters.StopAsync(Ct);
    }

    [Fact]
    public async Task FollowingStops_OnceNoOtherProcessHasWrittenForTheQuietPeriod()
    {
        var mine = new CountingStore(Store);
        var others = new OtherWriters(mine, TimeProvider.System, NullLogger.Instance) { Quiet = TimeSpan.FromSeconds(1) }; // seen by a poll every 10 ms, even on a loaded machine
        await others.StartAsync(Ct);

        others.Noticed();
        await UntilAsync(() => others.Following, "following starts");
        await UntilAsync(() => mine.GlobalReads > 0, "the global order is read");
        await UntilAsync(() => !others.Following, "following stops");
        var reads = mine.GlobalReads;
        await Task.Delay(100, Ct);
        Assert.Equal(reads, mine.GlobalReads);

        others.Noticed();
        await UntilAsync(() => others.Following, "following starts again at the next refusal");
        await others.StopAsync(Ct);
    }
}
