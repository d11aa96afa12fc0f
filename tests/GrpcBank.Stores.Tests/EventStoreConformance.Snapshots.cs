using GrpcBank.Application.EventStore;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>The snapshot port: the newest at or below a version, under one schema only; replaced in place; dropped in one go.</summary>
public abstract partial class EventStoreConformance
{
    private const string SnapshotSchema = "AccountState.v1.abc";

    private Task SaveAsync(string streamId, long version, string schema = SnapshotSchema, string state = "{}") =>
        Store.Snapshots.SaveAsync(new Snapshot(streamId, version, version * 10, schema, state), Ct);

    [Fact]
    public async Task ASnapshot_IsLoadedAsTheNewestAtOrBelowTheVersionAsked()
    {
        await SaveAsync("account-1", 1_000, state: """{"BalanceMinor":1000}""");
        await SaveAsync("account-1", 2_000, state: """{"BalanceMinor":2000}""");
        await SaveAsync("account-2", 1_500);

        Assert.Null(await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, 999, Ct));
        Assert.Equal(new Snapshot("account-1", 1_000, 10_000, SnapshotSchema, """{"BalanceMinor":1000}"""),
            await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, 1_000, Ct));
        Assert.Equal(1_000, (await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, 1_999, Ct))?.Version);
        Assert.Equal(new Snapshot("account-1", 2_000, 20_000, SnapshotSchema, """{"BalanceMinor":2000}"""),
            await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, long.MaxValue, Ct));
        Assert.Null(await Store.Snapshots.LoadAsync("account-3", SnapshotSchema, long.MaxValue, Ct));
    }

    [Fact]
    public async Task ASnapshotUnderAnotherSchema_IsNeverLoaded_AndLivesBesideTheCurrentOne()
    {
        await SaveAsync("account-1", 1_000, schema: "AccountState.v0.old", state: """{"old":true}""");
        Assert.Null(await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, long.MaxValue, Ct));

        await SaveAsync("account-1", 1_000, state: """{"new":true}""");

        Assert.Equal("""{"new":true}""", (await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, long.MaxValue, Ct))?.StateJson);
        Assert.Equal("""{"old":true}""", (await Store.Snapshots.LoadAsync("account-1", "AccountState.v0.old", long.MaxValue, Ct))?.StateJson);
    }

    [Fact]
    public async Task SavingASnapshotAgainAtTheSameVersion_ReplacesIt()
    {
        await SaveAsync("account-1", 1_000, state: """{"n":1}""");
        await SaveAsync("account-1", 1_000, state: """{"n":2}""");

        Assert.Equal("""{"n":2}""", (await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, 1_000, Ct))?.StateJson);
    }

    [Fact]
    public async Task DroppingAllSnapshots_LeavesNone_AndTouchesNoEvent()
    {
        await AppendAsync("account-1", 0, Event(), Event());
        await SaveAsync("account-1", 2);
        await SaveAsync("account-2", 1_000);

        await Store.Snapshots.DropAllAsync(Ct);

        Assert.Null(await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, long.MaxValue, Ct));
        Assert.Null(await Store.Snapshots.LoadAsync("account-2", SnapshotSchema, long.MaxValue, Ct));
        Assert.Equal(2, (await Store.ReadStreamAsync("account-1", 1, 10, Ct)).Count);
    }
}
