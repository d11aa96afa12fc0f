using System.Diagnostics;
using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres.ReadStore;
using GrpcBank.Sqlite;
using GrpcBank.Testing;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// Times every query shape on read stores holding a bank at scale (100,000 accounts, 1,000,000 statement lines, 50,000
/// payments, 20,000 holds, 20,000 orders): prints, asserts nothing. Minutes of loading, so only when
/// GRPCBANK_QUERY_SCALE_PROBE is set.
/// </summary>
public sealed class QueryScaleProbe(PostgresServer postgres, ITestOutputHelper output)
{
    private const string Variable = "GRPCBANK_QUERY_SCALE_PROBE";
    private static readonly CancellationToken None = CancellationToken.None;

    private static BankAtScale Bank() => new(accounts: 100_000, lines: 1_000_000, payments: 50_000, holds: 20_000, orders: 20_000);

    [Fact]
    public async Task EveryQueryShape_OnTheEmbeddedStore()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable(Variable) is not null, $"a minutes-long probe: set {Variable} to run it");
        var directory = Path.Combine(Path.GetTempPath(), "grpcbank-scale-probe", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "read.db");
        try
        {
            var load = Stopwatch.StartNew();
            using (var loading = SqliteReadStore.ForBulkLoad(path))
            {
                foreach (var batch in Bank().Batches(10_000)) await loading.ApplyAsync(batch, batch[^1].Position, None);
                await loading.FinishLoadAsync(None);
            }
            output.WriteLine($"loaded in {load.Elapsed.TotalSeconds:F1} s: {path}");
            using var store = new SqliteReadStore(path);
            await TimeAsync(store);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Environment.GetEnvironmentVariable(Variable) != "keep") Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task EveryQueryShape_OnThePostgresStore()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable(Variable) is not null, $"a minutes-long probe: set {Variable} to run it");
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var database = await postgres.CreateDatabaseAsync();
        await using var generations = await PostgresReadStoreGenerations.OpenAsync(database, "scale", None);
        var store = generations.OpenCurrent();
        var load = Stopwatch.StartNew();
        foreach (var batch in Bank().Batches(10_000)) await store.ApplyAsync(batch, batch[^1].Position, None);
        output.WriteLine($"loaded in {load.Elapsed.TotalSeconds:F1} s: {database}");
        await TimeAsync(store);
    }

    private async Task TimeAsync(IReadStore store)
    {
        foreach (var shape in QueryShapes.All())
        {
            await shape.Run(store); // warm: plans cached, pages read
            var clock = Stopwatch.StartNew();
            const int runs = 3;
            for (var i = 0; i < runs; i++) await shape.Run(store);
            var ms = clock.Elapsed.TotalMilliseconds / runs;
            output.WriteLine($"{(ms > 50 ? "SLOW " : "     ")}{ms,9:F1} ms  {shape.Name}");
        }
    }
}
