using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Admin.V1;
using HdrHistogram;

namespace GrpcBank.Bench;

/// <summary>
/// The read side's "Done when" figures (issue #16): replay measured from RebuildProjections to the switch, the relay's
/// rate while commands run at saturation, freshness under saturation, and the cold first command on a long stream.
/// </summary>
public sealed partial class Run
{
    /// <summary>Events a replay must cover for its figure to count.</summary>
    public const long ReplayMinimum = 250_000;

    /// <summary>Only the read-side phases, printed: for a quick look while working on the relay and the read stores.</summary>
    public async Task<Report> ReadSideOnlyAsync()
    {
        Step("building the server (Release)");
        await Shell.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", Path.Combine(root, "src/GrpcBank.Server/GrpcBank.Server.csproj")]);
        var serverDll = Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll");
        Step("starting PostgreSQL (fsync on)");
        await using (var pg = await PgCluster.StartAsync())
        {
            await pg.ExecAsync("create database bank");
            var bankDb = pg.ConnectionString("bank");
            var data = Directory.CreateTempSubdirectory("grpcbank-bench-data-").FullName;
            var ledger = new Ledger();
            var server = await ServerProcess.StartAsync(serverDll, data, bankDb);
            await GuardAsync(data, () => server, async () =>
            {
                var bank = new Bank(server.Channel, ledger);
                var ids = Enumerable.Range(1, s.Accounts).Select(i => $"b-{i:D6}").ToList();
                await bank.OpenAsync(ids);
                var uniform = new Workload("uniform", ids, null);
                await Load.WarmUpAsync(server, 16, Next(bank, uniform));
                report.SteadyRelay = await SteadyRelayAsync(bank, bankDb, uniform);
                PrintFailures(server);
                server = await LongStreamAsync(serverDll, data, bankDb, ledger, server);
                bank = new Bank(server.Channel, ledger);
                report.Rebuild = await RebuildAsync(bank, bankDb, ledger);
                PrintFailures(server);
            });
        }
        var embedded = Directory.CreateTempSubdirectory("grpcbank-bench-embedded-").FullName;
        var local = await ServerProcess.StartAsync(serverDll, embedded, null);
        await GuardAsync(embedded, () => local, async () =>
        {
            var bank = new Bank(local.Channel, new Ledger());
            var ids = Enumerable.Range(1, s.EmbeddedAccounts).Select(i => $"e-{i:D6}").ToList();
            await bank.OpenAsync(ids);
            report.FreshnessEmbeddedLoaded = await FreshnessUnderLoadAsync(bank, ids);
        });
        return report;
    }

    /// <summary>Errors and warnings the server logged (the figures of a phase that failed and retried mean little).</summary>
    private static void PrintFailures(ServerProcess server)
    {
        var lines = server.Log.Split('\n');
        var shown = 0;
        for (var i = 0; i < lines.Length - 1 && shown < 20; i++)
            if (lines[i].StartsWith("fail:", StringComparison.Ordinal) || lines[i].StartsWith("warn:", StringComparison.Ordinal))
                Console.WriteLine($"  server: {lines[i].Trim()} {lines[i + 1].Trim()}", shown++);
    }

    /// <summary>
    /// The relay's rate while commands run at saturation (closed loop, 16 callers): a backlog of deposits is committed by SQL
    /// in one transaction in the middle of the load, and the time from its commit until the read side has applied it is
    /// measured. The commands' own events go through the same relay meanwhile (counted too).
    /// </summary>
    private async Task<SteadyRelayResult> SteadyRelayAsync(Bank bank, string bankDb, Workload load)
    {
        var backlog = s.BigStream;
        Step($"steady relay: {backlog:N0} events committed by SQL while commands run at saturation (closed x16)");
        var accounts = Enumerable.Range(0, 20).Select(i => $"backlog-{i:D2}").ToList();
        await bank.OpenAsync(accounts);
        using var stop = new CancellationTokenSource();
        // Answered commands, counted as they come: the rate while the SQL insert runs and while the relay drains, apart.
        long answered = 0;
        var next = Next(bank, load);
        var running = Load.ClosedAsync("steady relay load x16", 16, TimeSpan.FromMinutes(10), rng =>
        {
            var call = next(rng);
            return async () =>
            {
                var outcome = await call();
                Interlocked.Increment(ref answered);
                return outcome;
            };
        }, stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var (insertStart, atInsert) = (DateTime.UtcNow, Interlocked.Read(ref answered));
        var (last, _, committedAt) = await BulkDepositsAsync(bankDb, accounts, backlog / accounts.Count);
        var atCommit = Interlocked.Read(ref answered);
        foreach (var a in accounts) bank.Ledger.Expected.AddOrUpdate(a, backlog / accounts.Count, (_, v) => v + backlog / accounts.Count);
        bank.Ledger.SeePosition(last);
        await bank.WaitForReadSideAsync(accounts[^1], last, TimeSpan.FromSeconds(600));
        var seconds = (DateTime.UtcNow - committedAt).TotalSeconds;
        var atApplied = Interlocked.Read(ref answered);
        await stop.CancelAsync();
        var commands = await running;
        var r = new SteadyRelayResult(backlog, seconds, commands)
        {
            CommandsPerSecondDuringInsert = (atCommit - atInsert) / (committedAt - insertStart).TotalSeconds,
            CommandsPerSecondWhileDraining = (atApplied - atCommit) / seconds,
        };
        Console.WriteLine($"  {r}");
        return r;
    }

    /// <summary>Replays the whole event store into a new read-store generation through RebuildProjections: call → switched.</summary>
    private async Task<RebuildResult> RebuildAsync(Bank bank, string bankDb, Ledger ledger)
    {
        var count = (long)await ScalarAsync(bankDb, "select count(*) from events");
        if (count < ReplayMinimum)
        {
            // Enough history for the figure to count: more deposits to the long stream, delivered by the relay first.
            var (last, _, _) = await BulkDepositsAsync(bankDb, ["big"], (int)(ReplayMinimum - count) + 1_000);
            ledger.Expected.AddOrUpdate("big", ReplayMinimum - count + 1_000, (_, v) => v + ReplayMinimum - count + 1_000);
            ledger.SeePosition(last);
            count = (long)await ScalarAsync(bankDb, "select count(*) from events");
        }
        await bank.WaitForReadSideAsync("big", ledger.MaxPosition, TimeSpan.FromSeconds(600));
        Step($"replay: RebuildProjections over {count:N0} events");
        var admin = new ProjectionService.ProjectionServiceClient(bank.Channel);
        var sw = Stopwatch.StartNew();
        double? switchedAt = null;
        long replayed = 0;
        using (var call = admin.RebuildProjections(new RebuildProjectionsRequest(), deadline: DateTime.UtcNow.AddMinutes(30)))
            await foreach (var m in call.ResponseStream.ReadAllAsync())
                if (m.Phase == RebuildPhase.Switched)
                    (switchedAt, replayed) = (sw.Elapsed.TotalSeconds, m.ReplayedEvents);
        var r = new RebuildResult(replayed, switchedAt ?? throw new InvalidOperationException("the rebuild never switched"));
        Console.WriteLine($"  {r}");
        return r;
    }

    /// <summary>
    /// Freshness while 16 callers keep the server saturated: the same two probes as the idle freshness (min_position wait,
    /// and polling until the version shows), taken one after another for as long as the load runs.
    /// </summary>
    private async Task<(LongHistogram MinPosition, LongHistogram Polling, PhaseResult Load)> FreshnessUnderLoadAsync(Bank bank, IReadOnlyList<string> ids)
    {
        Step("freshness under saturation (embedded, closed x16)");
        var load = new Workload("uniform", ids, null);
        await Load.ClosedAsync("warm-up", 16, TimeSpan.FromSeconds(2), Next(bank, load));
        var running = Load.ClosedAsync("embedded uniform closed x16 (freshness probe alongside)", 16, s.Phase * 2, Next(bank, load));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var (minPosition, polling) = await bank.FreshnessAsync(ids, s.FreshnessSamples, until: running);
        var phase = await running;
        Console.WriteLine($"  {phase}");
        Console.WriteLine($"  under load: min_position p50 {minPosition.GetValueAtPercentile(50) / 1000.0:N2} / p99 {minPosition.GetValueAtPercentile(99) / 1000.0:N2} ms; " +
                          $"polling p50 {polling.GetValueAtPercentile(50) / 1000.0:N2} / p99 {polling.GetValueAtPercentile(99) / 1000.0:N2} ms ({polling.TotalCount} samples)");
        return (minPosition, polling, phase);
    }
}

/// <summary>The relay draining <see cref="Events"/> committed at once while <see cref="Commands"/> ran.</summary>
public sealed record SteadyRelayResult(long Events, double Seconds, PhaseResult Commands)
{
    /// <summary>Commands answered per second while the backlog was being inserted by SQL (the bench's own load on PostgreSQL).</summary>
    public double CommandsPerSecondDuringInsert { get; init; }

    /// <summary>Commands answered per second from the backlog's commit until the read side had applied it.</summary>
    public double CommandsPerSecondWhileDraining { get; init; }

    public double PerSecond => Events / Seconds;
    public override string ToString() =>
        $"{Events:N0} events applied {Seconds:N2} s after their commit: {PerSecond:N0} events/s, while commands ran at {Commands.PerSecond:N0}/s " +
        $"(during the SQL insert {CommandsPerSecondDuringInsert:N0}/s, while the relay drained {CommandsPerSecondWhileDraining:N0}/s)";
}

/// <summary>RebuildProjections: events replayed into the new generation, and seconds from the call to the switch.</summary>
public sealed record RebuildResult(long Events, double Seconds)
{
    public double PerSecond => Events / Seconds;
    public override string ToString() => $"{Events:N0} events replayed and switched {Seconds:N2} s after the call: {PerSecond:N0} events/s";
}
