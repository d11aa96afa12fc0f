using System.Globalization;
using GrpcBank.Postgres;

namespace GrpcBank.Bench;

/// <summary>
/// What the relay costs the write side (issue #15): the uniform workload at saturation (closed x64) on PostgreSQL with the
/// relay on and with it off, alternately on one cluster (a fresh database each), so the ratio compares the same machine
/// state; then, optionally, the steady relay figure (a backlog committed by SQL while commands run) and the replay figure
/// (over a history shaped like the full run's, on a server restarted just before). Each phase prints
/// commands/s, CPU per command of the server and of this cluster's PostgreSQL, and the top statements.
/// </summary>
public sealed partial class Run
{
    public async Task RelayCostAsync(TimeSpan phase, int rounds, int backlog, bool replay, string? perfDirectory, IReadOnlyDictionary<string, string> environment)
    {
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        var serverDll = Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll");
        var env = CommandCost.ServerEnvironment(environment, traced: perfDirectory is not null);
        if (perfDirectory is not null) Directory.CreateDirectory(perfDirectory);
        Step("starting PostgreSQL (fsync on)");
        await using var pg = await PgCluster.StartAsync();
        var rates = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
        for (var round = 1; round <= rounds; round++)
            foreach (var relay in new[] { true, false })
            {
                var db = $"bank_{(relay ? "on" : "off")}_{round}";
                await pg.ExecAsync($"create database {db}");
                await pg.ExecAsync("create extension pg_stat_statements", db);
                var data = Directory.CreateTempSubdirectory("grpcbank-bench-data-").FullName;
                var server = await ServerProcess.StartAsync(serverDll, data, pg.ConnectionString(db), relay, env);
                await GuardAsync(data, () => server, async () =>
                {
                    var bank = new Bank(server.Channel, new Ledger());
                    var ids = Enumerable.Range(1, s.Accounts).Select(i => $"b-{i:D6}").ToList();
                    await bank.OpenAsync(ids);
                    var uniform = new Workload("uniform", ids, null);
                    await Load.WarmUpAsync(server, 16, Next(bank, uniform));
                    var name = $"uniform closed x64, relay {(relay ? "on" : "off")} (round {round})";
                    var r = await MeasuredAsync(pg, db, server, name, perfDirectory, async () =>
                    {
                        var load = Load.ClosedAsync(name, 64, phase, Next(bank, uniform));
                        if (relay && round == 1)
                        {
                            await Task.Delay(phase / 2);
                            await ExplainOutboxReadAsync(pg, db);
                        }
                        return await load;
                    }, p => p.Ok + p.Rejected);
                    rates[relay].Add(r.PerSecond);
                    if (relay && backlog > 0 && round == 1)
                    {
                        // The steady relay figure of the readside section, on this server, with its statements.
                        SteadyRelayResult? steady = null;
                        await MeasuredAsync(pg, db, server, $"steady relay ({backlog:N0} events)", perfDirectory, async () =>
                        {
                            steady = await new Run(root, s with { BigStream = backlog }).SteadyRelayAsync(bank, pg.ConnectionString(db), uniform);
                            return steady.Commands;
                        }, _ => backlog);
                    }
                    if (relay && replay && round == 1)
                    {
                        // The replay figure of the readside section (≥ 250,000 events through RebuildProjections), with its statements,
                        // over a history shaped like the full run's (payments from transfers, deposits spread over 5,000 accounts) and
                        // on a server just restarted, as there.
                        await TransferLoad.RunAsync("PostgreSQL", server, [64], phase, phase);
                        var spread = Enumerable.Range(1, 5_000).Select(i => $"r-{i:D6}").ToList();
                        await bank.OpenAsync(["big", .. spread]);
                        var count = (long)await ScalarAsync(pg.ConnectionString(db), "select count(*) from events");
                        var more = (int)Math.Max(0, ReplayMinimum - count) / spread.Count + 1;
                        var (last, _, _) = await BulkDepositsAsync(pg.ConnectionString(db), spread, more);
                        foreach (var id in spread) bank.Ledger.Expected.AddOrUpdate(id, more, (_, v) => v + more);
                        bank.Ledger.SeePosition(last);
                        await bank.WaitForReadSideAsync(spread[^1], last, TimeSpan.FromSeconds(600));
                        await server.DisposeAsync();
                        server = await ServerProcess.StartAsync(serverDll, data, pg.ConnectionString(db), relay, env);
                        bank = new Bank(server.Channel, bank.Ledger);
                        RebuildResult? rebuilt = null;
                        await MeasuredAsync(pg, db, server, "replay", perfDirectory, async () =>
                        {
                            rebuilt = await RebuildAsync(bank, pg.ConnectionString(db), bank.Ledger);
                            return new PhaseResult("replay") { Ok = rebuilt.Events, Elapsed = TimeSpan.FromSeconds(rebuilt.Seconds) };
                        }, p => p.Ok);
                    }
                });
            }
        var on = rates[true].Average();
        var off = rates[false].Average();
        Console.WriteLine($"\nrelay on {string.Join(" / ", rates[true].Select(F))} commands/s, relay off {string.Join(" / ", rates[false].Select(F))}: " +
                          $"on ÷ off = {on / off:N2}");
        static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);
    }

    /// <summary>Runs <paramref name="body"/> with pg_stat_statements reset, CPU counted and (optionally) perf sampling the server.</summary>
    private static async Task<PhaseResult> MeasuredAsync(
        PgCluster pg, string db, ServerProcess server, string name, string? perfDirectory, Func<Task<PhaseResult>> body, Func<PhaseResult, long> units)
    {
        await pg.ResetStatementsAsync(db);
        var (server0, pg0) = (server.CpuTime, ClusterCpuSeconds(pg));
        var perf = perfDirectory is null ? null : PerfAsync(server, Path.Combine(perfDirectory, Slug(name) + ".perf.data"));
        var started = DateTime.UtcNow;
        var r = await body();
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        if (perf is not null) await StopPerfAsync(perf.Value);
        var (serverCpu, pgCpu) = ((server.CpuTime - server0).TotalSeconds, ClusterCpuSeconds(pg) - pg0);
        var n = Math.Max(1, units(r));
        Console.WriteLine($"  {r}");
        Console.WriteLine($"  CPU over {seconds:N1} s: server {serverCpu / seconds:N2} cores ({serverCpu * 1e6 / n:N0} µs per unit), " +
                          $"PostgreSQL {pgCpu / seconds:N2} cores ({pgCpu * 1e6 / n:N0} µs per unit); {n:N0} units");
        var rows = await pg.RowsAsync("""
            select calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), rows,
                   regexp_replace(left(query, 100), '\s+', ' ', 'g')
            from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
            order by total_exec_time desc limit 8
            """, db);
        foreach (var row in rows)
            Console.WriteLine($"    {row[0],8} calls {row[1],10} ms  mean {row[2],8} ms  rows {row[3],8}  {row[4]}");
        return r;
    }

    /// <summary>The plan PostgreSQL runs for the relay's outbox read (its generic plan, the one the store runs), under the load.</summary>
    private static async Task ExplainOutboxReadAsync(PgCluster pg, string db)
    {
        await using var c = new Npgsql.NpgsqlConnection(pg.ConnectionString(db));
        await c.OpenAsync();
        await using (var prepare = new Npgsql.NpgsqlCommand($"set plan_cache_mode = force_generic_plan; prepare outbox_read as {PostgresEventStore.PendingSql}", c))
            await prepare.ExecuteNonQueryAsync();
        try
        {
            await using var explain = new Npgsql.NpgsqlCommand("explain (analyze, buffers) execute outbox_read('read-side', 5000, 0)", c);
            await using var reader = await explain.ExecuteReaderAsync();
            Console.WriteLine("  outbox read, generic plan under load:");
            while (await reader.ReadAsync()) Console.WriteLine("    " + reader.GetString(0));
        }
        catch (Npgsql.PostgresException e)
        {
            Console.WriteLine($"  (no plan of the outbox read: {e.MessageText})");
        }
    }

    private static string Slug(string name) => new([.. name.Select(c => char.IsLetterOrDigit(c) ? c : '-')]);

    /// <summary>CPU seconds (utime + stime) of this cluster's postmaster and its children: other clusters on the machine left out.</summary>
    internal static double ClusterCpuSeconds(PgCluster pg)
    {
        var postmaster = File.ReadLines(Path.Combine(pg.Directory, "data", "postmaster.pid")).First().Trim();
        double ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (Path.GetFileName(dir) != postmaster && fields[1] != postmaster) continue;
                ticks += double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { }
        }
        return ticks / 100; // USER_HZ
    }

    private static (System.Diagnostics.Process Perf, Task Exited)? PerfAsync(ServerProcess server, string file)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("perf") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "record", "-F", "499", "-g", "-p", server.ProcessId.ToString(CultureInfo.InvariantCulture), "-o", file })
            psi.ArgumentList.Add(a);
        var p = System.Diagnostics.Process.Start(psi)!;
        return (p, p.WaitForExitAsync());
    }

    private static async Task StopPerfAsync((System.Diagnostics.Process Perf, Task Exited) perf)
    {
        // SIGINT makes perf write its file and exit.
        await Shell.RunAsync("kill", ["-INT", perf.Perf.Id.ToString(CultureInfo.InvariantCulture)], check: false);
        await perf.Exited;
    }
}
