using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Postgres;
using HdrHistogram;
using Npgsql;

namespace GrpcBank.Bench;

/// <summary>
/// Where a lone caller's append goes, between pgbench's transaction and the store's: the same transaction from pgbench
/// (a C client), from Npgsql, the store's append statement from Npgsql with the server left to choose its plan and with
/// the generic one, and the store's own append with and without group commit, each at one caller, with PostgreSQL's
/// planning and execution time per statement (pg_stat_statements).
/// </summary>
public static class AppendProbe
{
    public static async Task RunAsync(string repoRoot, int seconds, int rounds)
    {
        await using var pg = await PgCluster.StartAsync();
        await Baselines.CreateAppendDatabaseAsync(pg, repoRoot);
        await pg.ExecAsync("create database storeprobe");
        await pg.ExecAsync("create extension pg_stat_statements", "storeprobe");
        await pg.TrackPlanningAsync();
        var scriptConnection = StoreLike(pg.ConnectionString(Baselines.Database));
        await using (var store = await PostgresEventStore.OpenAsync(pg.ConnectionString("storeprobe"), null, CancellationToken.None)) { }
        var duration = TimeSpan.FromSeconds(seconds);
        for (var round = 1; round <= rounds; round++)
        {
            Console.WriteLine($"round {round}");
            await pg.ResetStatementsAsync(Baselines.Database);
            var pgbench = await Baselines.PgbenchAsync(pg, 1, seconds);
            Console.WriteLine($"  pgbench (C)            p50 {pgbench.P50Ms:N3} ms  {pgbench.Tps:N0}/s");
            await pg.PrintStatementsAsync(Baselines.Database, 4);

            await using (var dataSource = NpgsqlDataSource.Create(scriptConnection))
                await TimeAsync("npgsql, pgbench's script", pg, Baselines.Database, duration, async () =>
                {
                    await using var connection = await dataSource.OpenConnectionAsync();
                    await using var batch = new NpgsqlBatch(connection) { BatchCommands = { new("select pg_current_xact_id()"), new(ScriptAppend) } };
                    await using var reader = await batch.ExecuteReaderAsync();
                    while (await reader.NextResultAsync()) { }
                });

            await using (var dataSource = NpgsqlDataSource.Create(StoreLike(pg.ConnectionString("storeprobe"))))
                foreach (var (name, first) in new[] { ("npgsql, layer, plan left", "select pg_current_xact_id()"), ("npgsql, layer, generic", PostgresEventStore.GroupStartSql) })
                {
                    var run = Guid.NewGuid().ToString("N")[..8];
                    long n = 0;
                    await TimeAsync(name, pg, "storeprobe", duration, async () =>
                    {
                        await using var connection = await dataSource.OpenConnectionAsync();
                        await using var batch = LayerBatch(connection, first, Request($"account-r{run}-{n++}"));
                        await using var reader = await batch.ExecuteReaderAsync();
                        while (await reader.NextResultAsync()) { }
                    });
                }

            await using (var store = new PostgresEventStore(pg.ConnectionString("storeprobe")))
            {
                var run = Guid.NewGuid().ToString("N")[..8];
                long n = 0;
                await TimeAsync("store, AppendGroupAsync", pg, "storeprobe", duration,
                    async () => await store.AppendGroupAsync([Request($"account-g{run}-{n++}")], CancellationToken.None));
                await TimeAsync("store, AppendAsync", pg, "storeprobe", duration,
                    async () => await store.AppendAsync(Request($"account-a{run}-{n++}"), CancellationToken.None));
                // As in the server that holds the relay lease: its appends wake its relay directly and send no NOTIFY.
                store.RelaysHere = () => true;
                await TimeAsync("store, relay here", pg, "storeprobe", duration,
                    async () => await store.AppendAsync(Request($"account-h{run}-{n++}"), CancellationToken.None));
            }
        }
    }

    /// <summary>A lone append as the store sends it, after <paramref name="first"/> (the store's: <see cref="PostgresEventStore.GroupStartSql"/>).</summary>
    private static NpgsqlBatch LayerBatch(NpgsqlConnection connection, string first, AppendRequest request) =>
        new(connection) { BatchCommands = { new(first), PostgresEventStore.LayerCommand([request], [request.InWriteOrder()], [0]) } };

    private static string StoreLike(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString)
    {
        MaxAutoPrepare = 64, NoResetOnClose = true, Options = "-c jit=off",
    }.ConnectionString;

    private static readonly string ScriptAppend = Baselines.AppendScript
        .Split("select pg_current_xact_id();")[1].Split("\\endpipeline")[0].Trim().TrimEnd(';');

    private static AppendRequest Request(string stream) => StoreProbe.Deposit(stream, 0, RequestIds.Next());

    private static async Task TimeAsync(string name, PgCluster pg, string database, TimeSpan duration, Func<Task> append)
    {
        for (var i = 0; i < 200; i++) await append();
        await pg.ResetStatementsAsync(Baselines.Database);
        var histogram = new LongHistogram(60_000_000L, 3);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long count = 0;
        while (sw.Elapsed < duration)
        {
            var t0 = Stopwatch.GetTimestamp();
            await append();
            histogram.RecordValue(Math.Max(1, (Stopwatch.GetTimestamp() - t0) * 1_000_000 / Stopwatch.Frequency));
            count++;
        }
        var clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / count;
        Console.WriteLine($"  {name,-22} p50 {histogram.GetValueAtPercentile(50) / 1000.0:N3} ms  {count / sw.Elapsed.TotalSeconds:N0}/s  client CPU {clientCpu:N0} µs");
        await pg.PrintStatementsAsync(database, 4);
    }
}
