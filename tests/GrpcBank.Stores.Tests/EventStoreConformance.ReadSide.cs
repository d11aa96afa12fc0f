using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Application.Relay;
using GrpcBank.Domain.Accounts;
using GrpcBank.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>The read side, fed by the relay from this event store, never shows half an append.</summary>
public abstract partial class EventStoreConformance
{
    private const long Opening = 100_000;

    [Fact]
    public async Task TheEmbeddedReadStore_FedByTheRelay_NeverShowsHalfATransfer_AtAnyBatchBoundaryOrToAConcurrentReader()
    {
        using var directory = new TempDirectory();
        using var readStore = new SqliteReadStore(Path.Combine(directory.Path, "read.db"));
        var last = await AppendTenAccountsAndTransfersAsync();

        var sink = new ReadStoreSink(readStore, Store, TimeProvider.System, NullLogger<ReadStoreSink>.Instance);
        var batches = new SnapshotAfterEachBatch(sink, () => TotalAsync(readStore));
        var relay = new OutboxRelay(Store, [batches], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance)
        {
            BatchSize = 500,
        };
        using var relayDone = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            var totals = new List<long>();
            while (!relayDone.IsCancellationRequested) totals.Add(await TotalAsync(readStore));
            return totals;
        }, Ct);

        await EventStoreProbes.Eventually(async () => await relay.PumpOnceAsync(batches, Ct) && await readStore.AppliedPositionAsync(Ct) >= last);
        await relayDone.CancelAsync();
        var seen = await reader;

        Assert.True(batches.Totals.Count >= 3, $"only {batches.Totals.Count} batches: the test needs batch boundaries");
        Assert.All(batches.Totals, total => Assert.Equal(10 * Opening, total));
        Assert.All(seen.Where(total => total != 0), total => Assert.Equal(10 * Opening, total));
        Assert.Equal(10 * Opening, await TotalAsync(readStore));
    }

    [Fact]
    public async Task AReplayIntoAServingReadStore_EndsEachPageWhereAnAppendEnds_SoNoReaderSeesHalfATransfer()
    {
        // An empty read side is filled by a replay of the event store while it serves: each page is one transaction.
        using var directory = new TempDirectory();
        using var readStore = new SqliteReadStore(Path.Combine(directory.Path, "read.db"));
        var last = await AppendSettledTenAccountsAndTransfersAsync();
        var sink = new ReadStoreSink(readStore, Store, TimeProvider.System, NullLogger<ReadStoreSink>.Instance);
        var totals = new List<long>();

        var (count, position) = await sink.ReplayAsync(readStore, 0, _ => totals.Add(TotalAsync(readStore).GetAwaiter().GetResult()), Ct, pageSize: 500);

        Assert.Equal((21 + 1_200, last), (count, position));
        Assert.True(totals.Count >= 3, $"only {totals.Count} pages: the test needs page boundaries");
        Assert.All(totals, total => Assert.Equal(10 * Opening, total));
    }

    [Fact]
    public async Task AnEmptyReadSide_ReplayingTheEventStoreAtStartUp_HeartbeatsAfterEachPage_NotOnlyOnceTheReplayIsDone()
    {
        using var directory = new TempDirectory();
        using var readStore = new SqliteReadStore(Path.Combine(directory.Path, "read.db"));
        await AppendSettledTenAccountsAndTransfersAsync();
        // The replay's read of its second page is held: a start-up replay of a long history, one page applied, more to come.
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new CountingStore(Store) { BeforeReadWithoutMetadata = after => after == 0 ? Task.CompletedTask : held.Task };
        var sink = new ReadStoreSink(readStore, store, TimeProvider.System, NullLogger<ReadStoreSink>.Instance);
        var progress = new RelayProgress();
        var relay = new OutboxRelay(store, [sink], new InProcessRelayLease(), progress, TimeProvider.System, NullLogger<OutboxRelay>.Instance);
        await relay.StartAsync(Ct);
        try
        {
            // It works through the history: it must not read as a consumer that completes no pass (heartbeat 0), which
            // GrpcBankConsumerNotHeartbeating takes for a stuck one, for as long as a replay of millions of events takes.
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For(sink.Name).LastPassAt is not null));
            Assert.Equal(10 * Opening, await TotalAsync(readStore));
        }
        finally
        {
            held.SetResult();
            await relay.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// <see cref="AppendTenAccountsAndTransfersAsync"/>, once all of it is settled: a replay reads what is settled
    /// (PostgreSQL: a transaction anywhere in the cluster, another test's, can hold the newest positions back for a
    /// moment) and ends where that ends; a rebuild catches up on the rest afterwards.
    /// </summary>
    private async Task<long> AppendSettledTenAccountsAndTransfersAsync()
    {
        var last = await AppendTenAccountsAndTransfersAsync();
        await Store.ReadAllUntilAsync(last - 1, last);
        return last;
    }

    /// <summary>
    /// Ten accounts in 21 events (the first in three), then 600 two-event transfers among them, each append recorded at a
    /// time of its own as the server records them: a batch or page of 500 events would end in the middle of one.
    /// </summary>
    /// <returns>The last transfer's position.</returns>
    private async Task<long> AppendTenAccountsAndTransfersAsync()
    {
        var accounts = Enumerable.Range(0, 10).Select(i => $"acc-{i}").ToArray();
        var appends = 0;
        DateTimeOffset Now() => RecordedAt.AddMilliseconds(appends++);
        foreach (var (id, i) in accounts.Select((id, i) => (id, i)))
        {
            AccountEvent[] opening = i == 0
                ? [new AccountEvent.AccountOpened(id, "Owner", "EUR"), Deposit(id, Opening / 2), Deposit(id, Opening / 2)]
                : [new AccountEvent.AccountOpened(id, "Owner", "EUR"), Deposit(id, Opening)];
            await Store.AppendAsync(new AppendRequest($"account-{id}", 0, [.. opening.Select(Encoded)], null, Now()), Ct);
        }
        var versions = accounts.ToDictionary(id => id, id => id == "acc-0" ? 3L : 2L);
        var random = new Random(14);
        var last = 0L;
        for (var t = 0; t < 600; t++)
        {
            var (from, to) = (accounts[random.Next(10)], accounts[random.Next(9)]);
            if (to == from) to = accounts[9];
            var amount = random.Next(1, 500);
            last = ((AppendResult.Appended)await Store.AppendAsync(new AppendRequest(
                [
                    new StreamAppend($"account-{from}", versions[from]++, [Encoded(new AccountEvent.MoneyWithdrawn(from, amount, "EUR", $"t{t}"))]),
                    new StreamAppend($"account-{to}", versions[to]++, [Encoded(Deposit(to, amount, $"t{t}"))]),
                ], null, Now()), Ct)).Position;
        }
        return last;
    }

    private static AccountEvent.MoneyDeposited Deposit(string id, long amount, string reference = "opening") => new(id, amount, "EUR", reference);

    private static EventData Encoded(AccountEvent e)
    {
        var (type, json) = EventCodecs.Accounts.Encode(e);
        return new EventData(Guid.NewGuid(), type, json, "{}");
    }

    /// <summary>The sum of every balance in one query, as a client listing the accounts would see it (0 before any is applied).</summary>
    private static async Task<long> TotalAsync(IReadStore readStore)
    {
        var page = await readStore.SearchAccountsAsync(new AccountSearch("", null, null, AccountOrder.OpenedAt, 100, null), Ct);
        return page.Items.Count == 10 ? page.Items.Sum(a => a.BalanceMinor) : page.Items.Count == 0 ? 0 : -1;
    }

    /// <summary>Passes each batch on, then reads the read side as a client would between two batches.</summary>
    private sealed class SnapshotAfterEachBatch(IEventSink inner, Func<Task<long>> total) : IEventSink
    {
        public List<long> Totals { get; } = [];

        public string Name => inner.Name;

        public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
        {
            await inner.HandleAsync(events, watermark, ct);
            if (events.Count > 0) Totals.Add(await total());
        }
    }

    private sealed class TempDirectory : IDisposable
    {
        private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("grpcbank-read-");

        public string Path => directory.FullName;

        public void Dispose() => directory.Delete(recursive: true);
    }
}
