using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres.ReadStore;
using GrpcBank.Sqlite;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// A generation whose rebuild failed or was cancelled before its switch is dropped, and the serving one is untouched:
/// otherwise every such rebuild would leave a file or schema behind for good. Derive once per store.
/// </summary>
public abstract class AbandonedGenerationSpecs : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected abstract Task<IReadStoreGenerations> OpenGenerationsAsync();

    /// <summary>Every generation that exists now, serving or not.</summary>
    protected abstract Task<IReadOnlyList<string>> ExistingGenerationsAsync();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task AnAbandonedGeneration_IsDropped_AndTheServingOneKeepsItsViews()
    {
        var generations = await OpenGenerationsAsync();
        var serving = generations.OpenCurrent();
        var h = new History();
        await serving.ApplyAsync([h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 500)], h.Position, None);
        var before = await ExistingGenerationsAsync();
        var next = await generations.CreateNextAsync(None);
        await next.ApplyAsync([h.Opened("a2", "Grace Hopper")], 0, None);
        Assert.NotEqual(before, await ExistingGenerationsAsync());

        await generations.DropAsync(next, None);

        Assert.Equal(before, await ExistingGenerationsAsync());
        Assert.Equal(500, (await serving.GetAccountAsync("a1", None))!.BalanceMinor);
    }
}

public sealed class SqliteAbandonedGenerationSpecs : AbandonedGenerationSpecs
{
    private readonly string directory = Directory.CreateTempSubdirectory("grpcbank-generations-").FullName;

    protected override Task<IReadStoreGenerations> OpenGenerationsAsync() =>
        Task.FromResult<IReadStoreGenerations>(new SqliteReadStoreGenerations(directory));

    [Fact]
    public async Task GenerationsACrashLeft_AreDeleted_WhenTheServingOneOpens()
    {
        var h = new History();
        var first = new SqliteReadStoreGenerations(directory);
        var serving = first.OpenCurrent();
        var rebuilt = await first.CreateNextAsync(None);
        await rebuilt.ApplyAsync([h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 500)], h.Position, None);
        await first.FinishLoadAsync(rebuilt, None);
        await first.SwitchAsync(serving, rebuilt, None);
        var servingFiles = await ExistingGenerationsAsync();
        // What a crash leaves: a rebuild's generation that never switched (with its WAL), the generation a switch had not
        // yet deleted, and a pointer being written.
        var abandoned = await first.CreateNextAsync(None);
        await abandoned.ApplyAsync([h.Opened("a2", "Grace Hopper")], 0, None);
        File.WriteAllText(Path.Combine(directory, "read.db"), "");
        File.WriteAllText(Path.Combine(directory, "read.current.tmp"), "read.db");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.True((await ExistingGenerationsAsync()).Count > servingFiles.Count + 2);

        var restarted = new SqliteReadStoreGenerations(directory).OpenCurrent();

        Assert.Equal(servingFiles, await ExistingGenerationsAsync());
        Assert.Equal(500, (await restarted.GetAccountAsync("a1", None))!.BalanceMinor);
    }

    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Every file of the directory: a generation's database with its WAL and shared-memory files.</summary>
    protected override Task<IReadOnlyList<string>> ExistingGenerationsAsync() =>
        Task.FromResult<IReadOnlyList<string>>([.. Directory.GetFiles(directory).Select(Path.GetFileName).Order()!]);

    public override ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}

public sealed class PostgresAbandonedGenerationSpecs(PostgresServer postgres) : AbandonedGenerationSpecs
{
    private readonly string prefix = $"t{Guid.NewGuid():N}"[..20];
    private string database = "";
    private PostgresReadStoreGenerations? generations;

    protected override async Task<IReadStoreGenerations> OpenGenerationsAsync()
    {
        database = await postgres.DatabaseForClassAsync(typeof(PostgresAbandonedGenerationSpecs));
        return generations = await PostgresReadStoreGenerations.OpenAsync(database, prefix, CancellationToken.None);
    }

    [Fact]
    public async Task AGenerationACrashLeft_IsDroppedWhenAServerStarts_AndOneAnotherServerIsBuilding_IsLeftAlone()
    {
        var running = await OpenGenerationsAsync();
        var serving = await ExistingGenerationsAsync();
        var crashed = await PostgresReadStoreGenerations.OpenAsync(database, prefix, CancellationToken.None);
        await crashed.CreateNextAsync(CancellationToken.None);
        await crashed.DisposeAsync(); // its server is gone, and with it the session that held the generation
        var left = await ExistingGenerationsAsync();
        var beingBuilt = await running.CreateNextAsync(CancellationToken.None);
        var building = (await ExistingGenerationsAsync()).Except(left).Single();

        await using var restarted = await PostgresReadStoreGenerations.OpenAsync(database, prefix, CancellationToken.None);

        Assert.Equal([.. serving, building], (await ExistingGenerationsAsync()).Order(StringComparer.Ordinal));
        await running.DropAsync(beingBuilt, CancellationToken.None);
        Assert.Equal(serving, await ExistingGenerationsAsync());
    }

    [Fact]
    public async Task AGenerationWhoseDropFailed_IsLetGo_SoTheNextServerThatStartsDropsIt()
    {
        var running = await OpenGenerationsAsync();
        var serving = await ExistingGenerationsAsync();
        var next = (PostgresReadStore)await running.CreateNextAsync(CancellationToken.None);
        // A drop that cannot finish in time (the rebuild's 30 s limit; here a lock held on one of its tables, and half a
        // second): the failure reaches the rebuild, which logs it, and the server runs on. Until the builder lets the
        // generation go, its connection and session lock stay for as long as the server runs, and no server may drop
        // the schema: a whole copy of the read side and a database connection per such rebuild, for good.
        await CutShortByALockAsync($"lock table {next.Generation}.accounts in access share mode", ct => running.DropAsync(next, ct));

        await using var restarted = await PostgresReadStoreGenerations.OpenAsync(database, prefix, CancellationToken.None);

        Assert.Equal(serving, await ExistingGenerationsAsync());
    }

    [Fact]
    public async Task AGenerationWhoseSwitchFailed_IsLetGo_SoTheNextServerThatStartsDropsIt()
    {
        var running = await OpenGenerationsAsync();
        var serving = await ExistingGenerationsAsync();
        var next = await running.CreateNextAsync(CancellationToken.None);
        // A switch that fails before its commit (here the serving pointer locked past a 500 ms limit; a lost connection
        // alike). A rebuild does not drop a generation once its switch began (it may serve), so until the builder lets
        // it go, its connection and lock stayed for as long as the server ran, and no server could drop it.
        await CutShortByALockAsync($"select 1 from {prefix}.serving for update", ct => running.SwitchAsync(running.OpenCurrent(), next, ct));

        await using var restarted = await PostgresReadStoreGenerations.OpenAsync(database, prefix, CancellationToken.None);

        Assert.Equal(serving, await ExistingGenerationsAsync());
    }

    /// <summary>
    /// Runs <paramref name="cutShort"/> with a 500 ms limit while another session's transaction holds the lock that
    /// <paramref name="lockSql"/> takes, so that it fails (cancelled) part way.
    /// </summary>
    private async Task CutShortByALockAsync(string lockSql, Func<CancellationToken, Task> cutShort)
    {
        await using var blocker = new NpgsqlConnection(database);
        await blocker.OpenAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var locking = new NpgsqlCommand(lockSql, blocker, tx)) await locking.ExecuteNonQueryAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cutShort(limit.Token));
    }

    /// <summary>The generations' schemas, {prefix}_g{stamp}.</summary>
    protected override Task<IReadOnlyList<string>> ExistingGenerationsAsync() => PostgresServer.SchemasAsync(database, prefix + "_g");

    public override async ValueTask DisposeAsync()
    {
        if (generations is not null) await generations.DisposeAsync();
    }
}
