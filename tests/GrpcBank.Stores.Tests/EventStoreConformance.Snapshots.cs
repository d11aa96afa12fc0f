using GrpcBank.Application.EventStore;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>
/// The snapshot port: the newest at or below a version, under one schema only; replaced in place; each save removes the
/// stream's older ones, of every schema; dropped in one go.
/// </summary>
public abstract partial class EventStoreConformance
{
    private const string SnapshotSchema = "AccountState.v1.abc";

    private Task SaveAsync(string streamId, long version, string schema = SnapshotSchema, string state = "{}") =>
        Store.Snapshots.SaveAsync(new Snapshot(streamId, version, version * 10, schema, state), Ct);

    private async Task<List<(string Schema, long Version)>> SnapshotsOfAsync(string streamId, params string[] schemas)
    {
        var found = new List<(string, long)>();
        foreach (var schema in schemas)
            for (var max = long.MaxValue; await Store.Snapshots.LoadAsync(streamId, schema, max, Ct) is { } snapshot; max = snapshot.Version - 1)
                found.Add((schema, snapshot.Version));
        return found;
    }

    [Fact]
    public async Task ASnapshot_IsLoadedAsTheNewestAtOrBelowTheVersionAsked()
    {
        // Saved in the background, a snapshot may land after a newer one: both are kept until the next save above them.
        await SaveAsync("account-1", 2_000, state: """{"BalanceMinor":2000}""");
        await SaveAsync("account-1", 1_000, state: """{"BalanceMinor":1000}""");
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
    public async Task ASnapshotUnderAnotherSchema_IsNeverLoaded()
    {
        await SaveAsync("account-1", 1_000, schema: "AccountState.v0.old", state: """{"old":true}""");
        Assert.Null(await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, long.MaxValue, Ct));

        await SaveAsync("account-1", 900, state: """{"new":true}""");

        Assert.Equal("""{"new":true}""", (await Store.Snapshots.LoadAsync("account-1", SnapshotSchema, long.MaxValue, Ct))?.StateJson);
        Assert.Equal("""{"old":true}""", (await Store.Snapshots.LoadAsync("account-1", "AccountState.v0.old", long.MaxValue, Ct))?.StateJson);
    }

    [Fact]
    public async Task SavingASnapshot_RemovesTheStreamsOthersAtOrBelowItsVersion_OfEverySchema_AndNoOtherStreams()
    {
        foreach (var version in new long[] { 100, 200, 300 }) await SaveAsync("account-1", version);
        await SaveAsync("account-1", 300, schema: "AccountState.v0.old");
        await SaveAsync("account-1", 200, schema: "AccountState.v0.older");
        await SaveAsync("account-1", 500, schema: "AccountState.v0.old");
        await SaveAsync("account-2", 100);

        await SaveAsync("account-1", 400);

        // Left: the stream's newest under this schema, and another schema's above it (a release that is further on).
        Assert.Equal([(SnapshotSchema, 400L), ("AccountState.v0.old", 500L)],
            await SnapshotsOfAsync("account-1", SnapshotSchema, "AccountState.v0.old", "AccountState.v0.older"));
        Assert.Equal([(SnapshotSchema, 100L)], await SnapshotsOfAsync("account-2", SnapshotSchema));

        // A stream that has not moved since an upgrade: the old release's snapshot goes when it is snapshotted again.
        await SaveAsync("account-3", 100, schema: "AccountState.v0.old");
        await SaveAsync("account-3", 100);

        Assert.Equal([(SnapshotSchema, 100L)], await SnapshotsOfAsync("account-3", SnapshotSchema, "AccountState.v0.old"));
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
