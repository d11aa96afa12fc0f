using System.Diagnostics;
using GrpcBank.Contracts.Query.V1;
using HdrHistogram;
using Npgsql;

namespace GrpcBank.Bench;

public sealed record RunSettings(
    string Mode, TimeSpan Phase, TimeSpan EmptyPhase, int PgbenchSeconds, int Accounts, int BigStream, int FreshnessSamples,
    int WarmSamples, int ColdRepeats, bool MeasureFsync, int EmbeddedAccounts, int Rounds)
{
    public static readonly RunSettings Quick = new("quick", TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2), 4, 500, 20_000, 40, 50, 1, false, 100, 3);
    public static readonly RunSettings Full = new("full", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), 12, 5_000, 100_000, 200, 200, 3, true, 500, 5);
}

/// <summary>One end-to-end run: baselines, load, freshness, relay, replay, long streams, invariants; then embedded mode.</summary>
public sealed partial class Run(string root, RunSettings s)
{
    private readonly Report report = new(s);
    private static readonly int[] Concurrency = [1, 4, 16, 64];
    private static readonly int[] TransferCallers = [1, 16, 64];

    /// <summary>The snapshot property is measured over at least 10 s of concurrent transfers, in every run.</summary>
    private TimeSpan SnapshotPhase => s.Phase > TimeSpan.FromSeconds(10) ? s.Phase : TimeSpan.FromSeconds(10);

    /// <summary>Only the transfer section, on PostgreSQL and embedded: a quick look without the whole run.</summary>
    public async Task<IReadOnlyList<TransferResult>> TransfersOnlyAsync()
    {
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        var serverDll = Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll");
        var results = new List<TransferResult>();
        Step("transfers, PostgreSQL mode");
        await using (var pg = await PgCluster.StartAsync())
        {
            await pg.ExecAsync("create database bank");
            var data = Directory.CreateTempSubdirectory("grpcbank-bench-data-").FullName;
            var server = await ServerProcess.StartAsync(serverDll, data, pg.ConnectionString("bank"));
            await GuardAsync(data, () => server, async () =>
                results.Add(await TransferLoad.RunAsync("PostgreSQL", server, TransferCallers, s.Phase, SnapshotPhase)));
        }
        Step("transfers, embedded mode");
        var embedded = Directory.CreateTempSubdirectory("grpcbank-bench-embedded-").FullName;
        var local = await ServerProcess.StartAsync(serverDll, embedded, null);
        await GuardAsync(embedded, () => local, async () =>
            results.Add(await TransferLoad.RunAsync("embedded", local, TransferCallers, s.Phase, SnapshotPhase)));
        return results;
    }

    /// <summary>Only the server's CPU per command (<see cref="CommandCost"/>), printed.</summary>
    public async Task CommandCostAsync(bool postgres, bool embedded, TimeSpan phase, string? traceDirectory, int[] callers, IReadOnlyDictionary<string, string> environment, IReadOnlySet<string>? kinds = null,
        int accounts = TransferResult.Accounts)
    {
        var env = CommandCost.ServerEnvironment(environment, traced: traceDirectory is not null);
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        var serverDll = Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll");
        if (traceDirectory is not null) Directory.CreateDirectory(traceDirectory);
        if (postgres)
        {
            Step("command cost, PostgreSQL mode");
            await using var pg = await PgCluster.StartAsync();
            await pg.ExecAsync("create database bank");
            await pg.ExecAsync("create extension pg_stat_statements", "bank");
            await pg.TrackPlanningAsync();
            var data = Directory.CreateTempSubdirectory("grpcbank-bench-data-").FullName;
            var server = await ServerProcess.StartAsync(serverDll, data, pg.ConnectionString("bank"), environment: env);
            await GuardAsync(data, () => server, () => CommandCost.RunAsync("PostgreSQL", server, phase, traceDirectory, callers, () => ClusterCpuSeconds(pg), kinds,
                () => pg.ResetStatementsAsync("bank"), () => pg.PrintStatementsAsync("bank", 6), accounts));
        }
        if (embedded)
        {
            Step("command cost, embedded mode");
            var data = Directory.CreateTempSubdirectory("grpcbank-bench-embedded-").FullName;
            var server = await ServerProcess.StartAsync(serverDll, data, null, environment: env);
            await GuardAsync(data, () => server, () => CommandCost.RunAsync("embedded", server, phase, traceDirectory, callers, kinds: kinds, accountCount: accounts));
        }
    }

    /// <summary>Only the event bus section (embedded mode and a throwaway RabbitMQ node).</summary>
    public async Task<BusResult> BusOnlyAsync(bool quick)
    {
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        Step("event bus, embedded mode");
        return await BusBench.RunAsync(Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll"), quick);
    }

    /// <summary>Only the several-servers section (1 vs 3 servers, relay failover): a quick look without the whole run.</summary>
    public async Task<MultiServerResult> ServersOnlyAsync()
    {
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        Step("several servers on one PostgreSQL");
        return await MultiServerBench.RunAsync(Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll"), s.Phase);
    }

    public async Task<Report> ExecuteAsync()
    {
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        var serverDll = Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll");
        report.Machine = await Machine.DescribeAsync();

        await PostgresAsync(serverDll);
        Step("several servers on one PostgreSQL");
        report.MultiServer = await MultiServerBench.RunAsync(serverDll, s.Phase);
        await EmbeddedAsync(serverDll);
        await BusAsync(serverDll);
        return report;
    }

    private async Task PostgresAsync(string serverDll)
    {
        Step("starting PostgreSQL (fsync on)");
        await using var pg = await PgCluster.StartAsync();
        report.PgVersion = (string)(await pg.RowsAsync("show server_version"))[0][0];
        if (s.MeasureFsync)
        {
            Step("pg_test_fsync");
            report.FdatasyncPerSecond = await Baselines.FdatasyncRateAsync(pg.Directory);
        }

        Step("pgbench: the store's append transaction");
        await Baselines.CreateAppendDatabaseAsync(pg, root);
        foreach (var c in Concurrency)
        {
            var r = await Baselines.PgbenchAsync(pg, c, s.PgbenchSeconds);
            report.Pgbench.Add(r);
            Console.WriteLine($"  pgbench x{c}: {r.Tps:N0} tps, p50 {r.P50Ms:N3} ms, p99 {r.P99Ms:N3} ms");
        }

        Step("store probe: PostgresEventStore in process, no gRPC (timing breakdown)");
        await pg.ExecAsync("create database storeprobe");
        foreach (var c in Concurrency)
        {
            var r = await StoreProbe.RunAsync(pg.ConnectionString("storeprobe"), c, s.Phase, migrate: c == Concurrency[0]);
            report.Store.Add(r);
            Console.WriteLine($"  store x{c}: {r.PerSecond:N0}/s, p50 {r.P50Ms:N3} ms (find {r.FindP50Ms:N3} + read {r.ReadP50Ms:N3} + append {r.AppendP50Ms:N3}), p99 {r.P99Ms:N3} ms");
        }

        await pg.ExecAsync("create database bank");
        await pg.ExecAsync("create extension pg_stat_statements", "bank");
        var bankDb = pg.ConnectionString("bank");
        var data = Directory.CreateTempSubdirectory("grpcbank-bench-data-").FullName;
        var ledger = new Ledger();
        var server = await ServerProcess.StartAsync(serverDll, data, bankDb);
        report.StartupSeconds = server.StartupTime.TotalSeconds;
        report.ServerRuntime = server.RuntimeSettings;
        await GuardAsync(data, () => server, async () =>
        {
            var bank = new Bank(server.Channel, ledger);
            Step("empty RPCs");
            foreach (var kind in new[] { "health", "invalid" })
                foreach (var c in new[] { 1, 16 })
                {
                    var r = await bank.EmptyRpcAsync(kind, c, s.EmptyPhase);
                    report.Empty.Add(r);
                    Console.WriteLine("  " + r);
                }

            Step($"opening {s.Accounts:N0} accounts");
            var ids = Enumerable.Range(1, s.Accounts).Select(i => $"b-{i:D6}").ToList();
            await bank.OpenAsync(ids);

            var uniform = new Workload("uniform", ids, null);
            var zipf = new Workload("zipf", ids, 1.1);
            report.ZipfHottestShare = zipf.HottestShare;
            Step("warm-up");
            await Load.WarmUpAsync(server, 16, Next(bank, uniform));
            var cpu = new CpuProbe(server);
            foreach (var w in new[] { uniform, zipf })
            {
                Step($"{w.Name}: closed loop");
                PhaseResult? best = null;
                foreach (var c in Concurrency)
                {
                    if (w == uniform && c == 64)
                    {
                        await pg.ResetStatementsAsync("bank");
                        cpu.Start();
                    }
                    var r = await Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{w.Name} closed x{c}", c, s.Phase, Next(bank, w)));
                    if (w == uniform && c == 64)
                    {
                        report.Cpu = cpu.Stop(r.Elapsed);
                        report.Statements = await pg.RowsAsync("""
                            select calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), rows,
                                   regexp_replace(left(query, 110), '\s+', ' ', 'g')
                            from pg_stat_statements where dbid = (select oid from pg_database where datname = 'bank')
                            order by total_exec_time desc limit 8
                            """, "bank");
                        report.StatementCommands = r.Ok + r.Rejected;
                    }
                    report.Load.Add(r);
                    Console.WriteLine("  " + r);
                    if (best is null || r.PerSecond > best.PerSecond) best = r;
                }
                // Open loop at 70 % of the best closed-loop throughput of the same workload.
                var rate = Math.Max(50, Math.Round(best!.PerSecond * 0.7 / 50) * 50);
                Step($"{w.Name}: open loop at {rate:N0}/s");
                var open = await Load.CountingCommitsAsync(server, () => Load.OpenAsync($"{w.Name} open {rate:N0}/s", rate, s.Phase, Next(bank, w)));
                report.Load.Add(open);
                Console.WriteLine("  " + open);
            }
            await PairedRoundsAsync(pg, bank, uniform);
            Step("transfers next to deposits, and the snapshot property (PostgreSQL mode)");
            report.TransfersPg = await TransferLoad.RunAsync("PostgreSQL", server, TransferCallers, s.Phase, SnapshotPhase);

            Step("pgbench x16 again (drift check)");
            report.PgbenchRepeat = await Baselines.PgbenchAsync(pg, 16, s.PgbenchSeconds);
            Console.WriteLine($"  pgbench x16 (repeat): {report.PgbenchRepeat.Tps:N0} tps");

            Step("profile: the same uniform load with the relay off (commands only)");
            await server.DisposeAsync();
            server = await ServerProcess.StartAsync(serverDll, data, bankDb, relay: false);
            bank = new Bank(server.Channel, ledger);
            await Load.WarmUpAsync(server, 16, Next(bank, uniform));
            foreach (var c in new[] { 1, 16, 64 })
            {
                var r = await Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"uniform closed x{c}, relay off", c, s.Phase, Next(bank, uniform)));
                report.RelayOff.Add(r);
                Console.WriteLine("  " + r);
            }
            report.WritePathPg = await TransferLoad.WritePathAsync(server, s.Phase);
            await server.DisposeAsync();
            server = await ServerProcess.StartAsync(serverDll, data, bankDb);
            bank = new Bank(server.Channel, ledger);
            await bank.WaitForReadSideAsync(ids[0], ledger.MaxPosition, TimeSpan.FromSeconds(300));

            Step("freshness (PostgreSQL mode)");
            report.FreshnessPg = await bank.FreshnessAsync(ids, s.FreshnessSamples);

            report.SteadyRelay = await SteadyRelayAsync(bank, bankDb, uniform);
            server = await LongStreamAsync(serverDll, data, bankDb, ledger, server);
            bank = new Bank(server.Channel, ledger);
            // GRPCBANK_BENCH_PERF=DIR: perf samples the server through the replay (no JIT symbols: that would slow it).
            var perf = Environment.GetEnvironmentVariable("GRPCBANK_BENCH_PERF") is { } perfDirectory
                ? PerfAsync(server, Path.Combine(Directory.CreateDirectory(perfDirectory).FullName, "replay.perf.data")) : null;
            report.Rebuild = await RebuildAsync(bank, bankDb, ledger);
            if (perf is not null) await StopPerfAsync(perf.Value);

            Step("invariants (PostgreSQL mode)");
            report.UnknownPg = await bank.ResolveUnknownAsync();
            report.InvariantsPg = await bank.CheckInvariantsAsync();
            Console.WriteLine($"  {report.InvariantsPg.Accounts} accounts, {report.InvariantsPg.Events:N0} events, {report.InvariantsPg.Failures.Count} failures");
        });
    }

    /// <summary>
    /// The parts of the two headline ratios against pgbench, measured in turn within half a minute, in several rounds:
    /// pgbench's append at one client, the emptiest call and a command of the uniform workload at one caller; pgbench at
    /// 16 clients and the uniform workload at 64 callers. Measured once each, minutes apart, a ratio moved with the
    /// machine's moment between its parts (the report takes the median round of each ratio).
    /// </summary>
    private async Task PairedRoundsAsync(PgCluster pg, Bank bank, Workload uniform)
    {
        Step($"{s.Rounds} paired rounds: pgbench x1, the emptiest call, a command at one caller; pgbench x16, commands at 64 callers");
        var seconds = (int)s.EmptyPhase.TotalSeconds;
        for (var round = 1; round <= s.Rounds; round++)
        {
            var r = new PairedRound(
                await Baselines.PgbenchAsync(pg, 1, seconds),
                await bank.EmptyRpcAsync("invalid", 1, s.EmptyPhase),
                await Load.ClosedAsync($"uniform closed x1 (round {round})", 1, s.EmptyPhase, Next(bank, uniform)),
                await Baselines.PgbenchAsync(pg, 16, seconds),
                await Load.ClosedAsync($"uniform closed x64 (round {round})", 64, s.EmptyPhase, Next(bank, uniform)));
            report.Rounds.Add(r);
            Console.WriteLine($"  round {round}: {r}");
        }
    }

    /// <summary>
    /// The relay's rate on a backlog (deposits to one long stream committed by SQL in one transaction while the server is
    /// idle), then the first command on that stream after restarts. Returns the server now running.
    /// </summary>
    private async Task<ServerProcess> LongStreamAsync(string serverDll, string data, string bankDb, Ledger ledger, ServerProcess server)
    {
        var bank = new Bank(server.Channel, ledger);
        Step("relay throughput");
        await bank.OpenAsync(["big", .. Enumerable.Range(0, Math.Max(2, s.ColdRepeats)).Select(i => $"fresh-{i}")]);
        await bank.WaitForReadSideAsync("big", ledger.MaxPosition, TimeSpan.FromSeconds(60));
        var bulk = await BulkDepositsAsync(bankDb, ["big"], s.BigStream);
        ledger.Expected.AddOrUpdate("big", s.BigStream, (_, v) => v + s.BigStream);
        ledger.SeePosition(bulk.LastPosition);
        Console.WriteLine($"  {s.BigStream:N0} deposits written to account-big by SQL in {bulk.Seconds:N1} s, committed at once");
        await bank.WaitForReadSideAsync("big", bulk.LastPosition, TimeSpan.FromSeconds(600));
        report.Relay = new RelayResult(s.BigStream, (DateTime.UtcNow - bulk.CommittedAt).TotalSeconds);
        Console.WriteLine($"  relay: {report.Relay}");
        // The server has the stream's fold from before the backlog: the cold command below starts on a restarted one.
        await server.DisposeAsync();
        server = await ServerProcess.StartAsync(serverDll, data, bankDb);
        bank = new Bank(server.Channel, ledger);

        Step("raw read rate of the events table");
        (report.RawReadRows, report.RawReadPerSecond) = await Baselines.RawReadAsync(bankDb);
        Console.WriteLine($"  {report.RawReadRows:N0} rows at {report.RawReadPerSecond:N0} rows/s");

        Step($"command cost on a {s.BigStream:N0}-event stream vs a fresh one");
        // At least two restarts: the first finds no snapshot (the history was written by SQL), the later ones start from one.
        for (var i = 0; i < Math.Max(2, s.ColdRepeats); i++)
        {
            if (i > 0)
            {
                await server.DisposeAsync();
                server = await ServerProcess.StartAsync(serverDll, data, bankDb);
                bank = new Bank(server.Channel, ledger);
            }
            var fresh = $"fresh-{i}";
            var big = await bank.DepositSeriesAsync("big", i == 0 ? s.WarmSamples : 0);
            var small = await bank.DepositSeriesAsync(fresh, i == 0 ? s.WarmSamples : 0);
            report.ColdBig.Add(big.FirstMs);
            report.ColdFresh.Add(small.FirstMs);
            if (i == 0) (report.WarmBig, report.WarmFresh) = (big.Warm, small.Warm);
            Console.WriteLine($"  after restart {i + 1}: first deposit on big {big.FirstMs:N1} ms, on a fresh account {small.FirstMs:N1} ms");
        }
        return server;
    }

    private async Task EmbeddedAsync(string serverDll)
    {
        Step("embedded mode (SQLite, no PostgreSQL)");
        var data = Directory.CreateTempSubdirectory("grpcbank-bench-embedded-").FullName;
        var ledger = new Ledger();
        var server = await ServerProcess.StartAsync(serverDll, data, null);
        await GuardAsync(data, () => server, async () =>
        {
            var bank = new Bank(server.Channel, ledger);
            var ids = Enumerable.Range(1, s.EmbeddedAccounts).Select(i => $"e-{i:D6}").ToList();
            await bank.OpenAsync(ids);
            var uniform = new Workload("uniform", ids, null);
            await Load.WarmUpAsync(server, 16, Next(bank, uniform));
            // 16 callers in several rounds: the headline takes their median, since one 10-second phase moved with the
            // machine's moment by ±20 % (4,322 and 4,663/s in two full runs of the same code, 3,598–5,824 in `cost`).
            var phases = new List<(string Name, int Callers)> { ("embedded uniform closed x1", 1) };
            for (var round = 1; round <= s.Rounds; round++)
                phases.Add(($"embedded uniform closed x16{(s.Rounds > 1 ? $" (round {round})" : "")}", 16));
            foreach (var (name, callers) in phases)
            {
                var r = await Load.CountingCommitsAsync(server, () => Load.ClosedAsync(name, callers, s.Phase, Next(bank, uniform)));
                report.Embedded.Add(r);
                Console.WriteLine("  " + r);
            }
            report.FreshnessEmbedded = await bank.FreshnessAsync(ids, s.FreshnessSamples);
            report.FreshnessEmbeddedLoaded = await FreshnessUnderLoadAsync(bank, ids);
            Step("transfers next to deposits, and the snapshot property (embedded mode)");
            report.TransfersEmbedded = await TransferLoad.RunAsync("embedded", server, TransferCallers, s.Phase, SnapshotPhase);
            report.UnknownEmbedded = await bank.ResolveUnknownAsync();
            report.InvariantsEmbedded = await bank.CheckInvariantsAsync();
            Console.WriteLine($"  invariants: {report.InvariantsEmbedded.Accounts} accounts, {report.InvariantsEmbedded.Failures.Count} failures");
        });
    }

    /// <summary>The event bus on a throwaway RabbitMQ node; skipped, with the reason printed and reported, where there is none.</summary>
    private async Task BusAsync(string serverDll)
    {
        Step("event bus (RabbitMQ), embedded mode");
        if (GrpcBank.Testing.RabbitMqNode.MissingReason is { } missing)
        {
            report.BusSkipped = missing;
            Console.WriteLine($"  skipped: {missing}");
            return;
        }
        report.Bus = await BusBench.RunAsync(serverDll, quick: s == RunSettings.Quick);
        report.Bus.WriteRows(line => Console.WriteLine("  " + line));
    }

    /// <summary>Runs <paramref name="body"/>; prints the server's log if it fails; always stops the (current) server and removes its data.</summary>
    private static async Task GuardAsync(string data, Func<ServerProcess> server, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            Console.Error.WriteLine(server().Log);
            throw;
        }
        finally
        {
            await server().DisposeAsync();
            Disk.Remove(data);
        }
    }

    private static Func<Random, Func<Task<Outcome>>> Next(Bank bank, Workload w) => Load.Commands(w, bank.Accounts, bank.Ledger);

    /// <summary>
    /// Appends <paramref name="countEach"/> deposits of 1 to each of some open accounts in one transaction, interleaved
    /// (the first deposit to each account, then the second to each...) as concurrent callers would write them, with the
    /// rows the store writes for each: the event (same type, payload and metadata shape), its outbox row and a request-log
    /// row. Like the store, the transaction takes its xid before it draws a position.
    /// </summary>
    private static async Task<(long LastPosition, double Seconds, DateTime CommittedAt)> BulkDepositsAsync(
        string connectionString, IReadOnlyList<string> accountIds, int countEach)
    {
        var sw = Stopwatch.StartNew();
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await using (var xid = new NpgsqlCommand("select pg_current_xact_id()", c, tx)) await xid.ExecuteScalarAsync();
        await using var insert = new NpgsqlCommand("""
            with accounts as materialized (
                -- Each stream's version read once, before the insert (a lookup per row would step over the rows
                -- this statement inserted, which it cannot see: quadratic).
                select a.account_id, a.stream_id, a.n, (select max(stream_version) from events where stream_id = a.stream_id) as v
                from unnest($1::text[], $2::text[]) with ordinality as a(account_id, stream_id, n)
            ), appended as (
                insert into events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
                select a.stream_id, a.v + g, gen_random_uuid(), 'accounts.MoneyDeposited.v1',
                       jsonb_build_object('accountId', a.account_id, 'amountMinor', 1, 'currencyCode', 'EUR', 'reference', 'bulk'),
                       jsonb_build_object('requestId', 'bulk-' || a.account_id || '-' || (a.v + g), 'correlationId', null, 'causationId', null, 'principal', null),
                       now()
                from accounts a, generate_series(1, $3) g
                order by g, a.n
                returning position, stream_id, stream_version, data ->> 'accountId' as account_id
            ), outboxed as (
                insert into outbox (first_position, last_position) select min(position), max(position) from appended
            ), logged as (
                insert into request_log (request_id, fingerprint, reply, position)
                select 'bulk-' || account_id || '-' || stream_version, repeat('0', 64),
                       json_build_object('aggregateId', account_id, 'version', stream_version, 'position', position, 'balanceMinor', null)::text, position
                from appended
            )
            select max(position) from appended
            """, c, tx) { CommandTimeout = 600 };
        insert.Parameters.Add(new() { Value = accountIds.ToArray() });
        insert.Parameters.Add(new() { Value = accountIds.Select(GrpcBank.Domain.Accounts.Account.StreamId).ToArray() });
        insert.Parameters.Add(new() { Value = countEach });
        var last = (long)(await insert.ExecuteScalarAsync())!;
        // Wakes a running server's relay at the commit, as the store's own appends do (OutboxNotifier).
        await using (var notify = new NpgsqlCommand($"select pg_notify('{GrpcBank.Postgres.PostgresEventStore.NotificationChannel}', 'bench')", c, tx))
            await notify.ExecuteScalarAsync();
        await tx.CommitAsync();
        return (last, sw.Elapsed.TotalSeconds, DateTime.UtcNow);
    }

    private static async Task<object> ScalarAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return (await cmd.ExecuteScalarAsync())!;
    }

    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static void Step(string what) => Console.WriteLine($"[{Clock.Elapsed:mm\\:ss}] {what}");
}

public sealed record CpuUse(double Server, double Bench, double Postgres, double Machine);

/// <summary>One round of the headline ratios' parts, measured in turn (see <c>Run.PairedRoundsAsync</c>).</summary>
public sealed record PairedRound(PgbenchResult Pgbench1, PhaseResult Empty, PhaseResult Command1, PgbenchResult Pgbench16, PhaseResult Command64)
{
    /// <summary>Command p50 at one caller ÷ (the emptiest call's p50 + pgbench's p50 at one client).</summary>
    public double LatencyRatio => Command1.P(50) / (Empty.P(50) + Pgbench1.P50Ms);

    /// <summary>Commands/s at 64 callers ÷ pgbench's transactions/s at 16 clients (its best: BENCHMARKS.md, Baselines).</summary>
    public double ThroughputRatio => Command64.PerSecond / Pgbench16.Tps;

    public override string ToString() =>
        $"command p50 {Command1.P(50):N2} ms ÷ (empty call {Empty.P(50):N3} + pgbench {Pgbench1.P50Ms:N3} ms) = {LatencyRatio:N2}; " +
        $"{Command64.PerSecond:N0} commands/s ÷ pgbench x16 {Pgbench16.Tps:N0} tps = {ThroughputRatio:N2}";
}

public sealed record RelayResult(long Events, double Seconds)
{
    public double PerSecond => Events / Seconds;
    public override string ToString() => $"{Events:N0} events applied {Seconds:N2} s after their commit: {PerSecond:N0} events/s";
}

/// <summary>CPU seconds used by the server and by the bench process over a phase.</summary>
public sealed class CpuProbe(ServerProcess server)
{
    private TimeSpan server0, bench0;
    private double postgres0, machine0;

    public void Start() =>
        (server0, bench0, postgres0, machine0) = (server.CpuTime, Process.GetCurrentProcess().TotalProcessorTime, PostgresSeconds(), MachineBusySeconds());

    public CpuUse Stop(TimeSpan elapsed)
    {
        var t = elapsed.TotalSeconds;
        return new CpuUse(
            (server.CpuTime - server0).TotalSeconds / t,
            (Process.GetCurrentProcess().TotalProcessorTime - bench0).TotalSeconds / t,
            (PostgresSeconds() - postgres0) / t,
            (MachineBusySeconds() - machine0) / t);
    }

    private const double Hz = 100; // USER_HZ on Linux

    /// <summary>utime + stime of every process named postgres.</summary>
    private static double PostgresSeconds()
    {
        double ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                if (stat[(stat.IndexOf('(') + 1)..close] != "postgres") continue;
                var fields = stat[(close + 2)..].Split(' ');
                ticks += double.Parse(fields[11]) + double.Parse(fields[12]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        }
        return ticks / Hz;
    }

    /// <summary>Busy CPU seconds of the whole machine (everyone's, including other users').</summary>
    private static double MachineBusySeconds()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(double.Parse).ToArray();
        return (f.Take(8).Sum() - f[3] - f[4]) / Hz;
    }
}
