using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace GrpcBank.Bench;

public sealed record PgbenchResult(int Clients, double Tps, double P50Ms, double P99Ms, double MeanMs, long Transactions, long Failed);

/// <summary>Baselines measured in the same run as the server: pgbench, raw reads, fdatasync rate.</summary>
public static partial class Baselines
{
    public const string Database = "appendbench";

    /// <summary>
    /// One append exactly as PostgresEventStore sends it: one pipeline (one implicit transaction, one Sync, like
    /// Npgsql's batch) holding the xid probe and the guarded events insert with its outbox and request-log rows (the store
    /// sends its NOTIFY after the commit, outside the transaction). Each transaction appends version 1 of a new stream named after its own xid (so concurrent clients
    /// never conflict); payloads are the size of a real deposit's. The event id is time-ordered like the store's
    /// (<c>Guid.CreateVersion7</c>: the time in milliseconds, then random bits): with <c>gen_random_uuid()</c> each insert
    /// into the unique index on <c>event_id</c> went to a random page, ~20 µs of PostgreSQL CPU an event that the store does
    /// not pay (pgbench, 100-event transactions: 37–48 µs an event against 16–20 µs time-ordered). JSON has a space after
    /// each colon so pgbench does not read ":name" as a variable.
    /// </summary>
    public const string AppendScript = """
        \startpipeline
        select pg_current_xact_id();
        with appended as (
            insert into events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
            select 'account-pgb' || pg_current_xact_id()::text, 0 + e.ord, e.id, e.type, e.data::jsonb, e.metadata::jsonb, now()
            from unnest(array[(lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 19))::uuid],
                        array['accounts.MoneyDeposited.v1'],
                        array['{"accountId": "b-001234", "amountMinor": 4242, "currencyCode": "EUR", "reference": "bench"}'],
                        array['{"requestId": "0f8fad5bd9cb469fa16570867728950e", "correlationId": null, "causationId": null, "principal": null}'])
                 with ordinality as e (id, type, data, metadata, ord)
            where coalesce((select max(stream_version) from events where stream_id = 'account-pgb' || pg_current_xact_id()::text), 0) = 0
            order by e.ord
            returning position
        ), outboxed as (
            insert into outbox (first_position, last_position) select min(position), max(position) from appended having count(*) > 0
        ), logged as (
            insert into request_log (request_id, fingerprint, reply, position)
            select 'pgb-' || pg_current_xact_id()::text, 'A3F1C2D4E5B6978812345678ABCDEF0123456789ABCDEF0123456789ABCDEF01',
                   '{"aggregateId": "b-001234", "version": 17, "position": 123456, "balanceMinor": 98765}', max(position)
            from appended having count(*) > 0
        )
        select count(*), coalesce(max(position), 0) from appended;
        \endpipeline
        """;

    public static async Task CreateAppendDatabaseAsync(PgCluster pg, string repoRoot)
    {
        await pg.ExecAsync($"create database {Database}");
        foreach (var file in Directory.GetFiles(Path.Combine(repoRoot, "src/GrpcBank.Postgres/Migrations"), "*.sql").Order(StringComparer.Ordinal))
            await pg.ExecAsync(await File.ReadAllTextAsync(file), Database);
        await pg.ExecAsync("create extension if not exists pg_stat_statements", Database);
    }

    public static async Task<PgbenchResult> PgbenchAsync(PgCluster pg, int clients, int seconds)
    {
        await Disk.SettleAsync();
        var dir = Directory.CreateTempSubdirectory("grpcbank-pgbench-").FullName;
        try
        {
            var script = Path.Combine(dir, "append.sql");
            await File.WriteAllTextAsync(script, AppendScript + "\n");
            var output = await Shell.RunAsync("/usr/bin/pgbench",
            [
                "-n", "-M", "prepared", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, 2).ToString(CultureInfo.InvariantCulture),
                "-T", seconds.ToString(CultureInfo.InvariantCulture), "-f", script, "-l", $"--log-prefix={Path.Combine(dir, "log")}",
                "-h", "127.0.0.1", "-p", pg.Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", Database,
            ], workingDirectory: dir);
            var tps = double.Parse(TpsLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            var mean = double.Parse(LatencyLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            var failedMatch = FailedLine().Match(output);
            var latencies = new List<long>();
            foreach (var log in Directory.GetFiles(dir, "log.*"))
                foreach (var line in File.ReadLines(log))
                {
                    var parts = line.Split(' ');
                    if (parts.Length >= 3 && long.TryParse(parts[2], out var us)) latencies.Add(us);
                }
            latencies.Sort();
            double Pct(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(p / 100 * latencies.Count))] / 1000.0;
            return new PgbenchResult(clients, tps, Pct(50), Pct(99), mean, latencies.Count,
                failedMatch.Success ? long.Parse(failedMatch.Groups[1].Value, CultureInfo.InvariantCulture) : 0);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Rows/s of the whole events table read in pages of 1,000 by position, every column materialised.</summary>
    public static async Task<(long Rows, double PerSecond)> RawReadAsync(string connectionString)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        long after = 0, rows = 0;
        var sw = Stopwatch.StartNew();
        while (true)
        {
            await using var cmd = dataSource.CreateCommand(
                "select position, stream_id, stream_version, event_id, event_type, data::text, metadata::text, recorded_at from events where position > $1 order by position limit 1000");
            cmd.Parameters.Add(new() { Value = after });
            await using var r = await cmd.ExecuteReaderAsync();
            var n = 0;
            while (await r.ReadAsync())
            {
                after = r.GetInt64(0);
                _ = (r.GetString(1), r.GetInt64(2), r.GetGuid(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetFieldValue<DateTimeOffset>(7));
                n++;
            }
            rows += n;
            if (n < 1000) break;
        }
        return (rows, rows / sw.Elapsed.TotalSeconds);
    }

    /// <summary>pg_test_fsync's fdatasync rate (one 8 kB write per sync) on the cluster's disk; null if it cannot run.</summary>
    public static async Task<double?> FdatasyncRateAsync(string directory)
    {
        try
        {
            var output = await Shell.RunAsync(Path.Combine(PgCluster.Bin, "pg_test_fsync"), ["-s", "1", "-f", Path.Combine(directory, "fsync-test.tmp")]);
            var m = FdatasyncLine().Match(output);
            return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"pg_test_fsync: {e.Message}");
            return null;
        }
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();

    [GeneratedRegex(@"latency average = ([0-9.]+) ms")]
    private static partial Regex LatencyLine();

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex FailedLine();

    [GeneratedRegex(@"\n\s+fdatasync\s+([0-9.]+) ops/sec")]
    private static partial Regex FdatasyncLine();
}
