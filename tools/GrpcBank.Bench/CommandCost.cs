using System.Globalization;
using GrpcBank.Contracts.Accounts.V1;

namespace GrpcBank.Bench;

/// <summary>
/// The server's own CPU per command: deposits and transfers at 1 caller and at saturation, each phase reported as
/// commands/s and the server process's CPU time per answered command (and PostgreSQL's, and the load's own). CPU per
/// command, unlike a rate, changes little when other work shares the machine, so it is the figure to compare before and
/// after a change to the command path.
/// With <c>--trace</c> it also records the server's CPU samples in each phase with Linux perf (<c>perf report -i FILE</c>).
/// </summary>
public static class CommandCost
{
    /// <param name="DatabaseCpuUsPerCommand">PostgreSQL's CPU per answered command (all of the cluster's processes), in PostgreSQL mode.</param>
    /// <param name="ClientCpuUsPerCommand">The load's own CPU per answered command (this process: the gRPC clients), on the same cores.</param>
    public sealed record Phase(string Name, PhaseResult Load, double ServerCpuUsPerCommand, double? DatabaseCpuUsPerCommand, double ClientCpuUsPerCommand)
    {
        public override string ToString() =>
            $"{Name,-28} {Load.PerSecond,8:N0}/s  p50 {Load.P(50),6:N2} ms  p99 {Load.P(99),6:N2} ms  server CPU {ServerCpuUsPerCommand,7:N0} µs/command" +
            (DatabaseCpuUsPerCommand is { } db ? $", PostgreSQL {db,5:N0} µs" : "") + $", client {ClientCpuUsPerCommand,5:N0} µs" +
            $", {Load.PerCommit} appends per commit  ({Load.Ok} ok, {Load.Rejected} rejected, {Load.Conflicts} conflicts, {Load.Failed} failed)";
    }

    /// <param name="databaseCpuSeconds">The database's CPU time so far, where it runs apart from the server (PostgreSQL mode).</param>
    public static async Task<IReadOnlyList<Phase>> RunAsync(
        string mode, ServerProcess server, TimeSpan duration, string? traceDirectory, int[] callers, Func<double>? databaseCpuSeconds = null, IReadOnlySet<string>? kinds = null,
        Func<Task>? resetStatements = null, Func<Task>? printStatements = null, int accountCount = TransferResult.Accounts)
    {
        var (accounts, payments, _, ids) = await TransferLoad.WarmFundedAsync(server, 'c', "Cost", accountCount);
        var batches = new GrpcBank.Contracts.Batch.V1.BatchService.BatchServiceClient(server.Channel);
        var phases = new List<Phase>();
        foreach (var c in callers)
            // Each kind with the commands one of its calls answers for.
            foreach (var (kind, next, perCall) in new[] { ("empty", Bank.Invalid(accounts), 1), ("deposits", TransferLoad.Deposit(accounts, ids), 1), ("uniform", Load.Commands(new Workload("uniform", ids, null), accounts, new Ledger()), 1), ("zipf", Load.Commands(new Workload("zipf", ids, 1.1), accounts, new Ledger()), 1), ("transfers", TransferLoad.Transfer(payments, ids), 1),
                         ("atomic-batches", TransferLoad.Batch(batches, ids, atomic: true), TransferResult.BatchSize),
                         ("independent-batches", TransferLoad.Batch(batches, ids, atomic: false), TransferResult.BatchSize) }.Where(k => kinds is null || kinds.Contains(k.Item1)))
            {
                var name = $"{mode} {kind} x{c}";
                var trace = traceDirectory is null ? null : StartTrace(server, Path.Combine(traceDirectory, $"{mode}-{kind}-x{c}.perf.data".ToLowerInvariant()), duration);
                if (resetStatements is not null) await resetStatements();
                var (cpu0, db0, client0) = (server.CpuTime, databaseCpuSeconds?.Invoke(), ClientCpuTime);
                var load = await Load.CountingCommitsAsync(server, () => Load.ClosedAsync(name, c, duration, next));
                var (cpu, db, client) = (server.CpuTime - cpu0, databaseCpuSeconds?.Invoke() - db0, ClientCpuTime - client0);
                if (trace is not null) await trace;
                var answered = Math.Max(1, load.Ok + load.Rejected) * perCall;
                phases.Add(new Phase(name, load, cpu.TotalMicroseconds / answered, db * 1e6 / answered, client.TotalMicroseconds / answered));
                Console.WriteLine("  " + phases[^1]);
                if (printStatements is not null) await printStatements();
            }
        return phases;
    }

    private static TimeSpan ClientCpuTime => System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;

    /// <summary>The server's on-CPU samples (Linux perf; the server runs with DOTNET_PerfMapEnabled=1 so JIT-compiled frames have names).</summary>
    private static Task StartTrace(ServerProcess server, string file, TimeSpan duration) =>
        Shell.RunAsync("perf", ["record", "-F", "499", "-g", "-p", server.ProcessId.ToString(CultureInfo.InvariantCulture), "-o", file,
            "--", "sleep", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>The server's environment: <paramref name="given"/>, plus <see cref="TraceEnvironment"/> when its CPU is traced.</summary>
    public static Dictionary<string, string> ServerEnvironment(IReadOnlyDictionary<string, string> given, bool traced)
    {
        var env = new Dictionary<string, string>(given);
        if (traced) foreach (var (k, v) in TraceEnvironment) env[k] = v;
        return env;
    }

    /// <summary>What the server needs for <see cref="StartTrace"/> to name managed frames.</summary>
    private static IReadOnlyDictionary<string, string> TraceEnvironment { get; } = new Dictionary<string, string>
    {
        ["DOTNET_PerfMapEnabled"] = "1",
        // perf cannot name code that runs from the double-mapped (write-xor-execute) JIT memory.
        ["DOTNET_EnableWriteXorExecute"] = "0",
    };
}

/// <summary>
/// The first command after a restart, quickly (embedded mode, or PostgreSQL mode given a connection string): a stream of 2,001 events (so it has a snapshot) and a
/// fresh account, each given a first deposit right after the server reports healthy, over a few restarts. The full
/// figure on a 100,001-event stream is the readside run's; this one is for trying start-up changes.
/// </summary>
public static class ColdCommand
{
    public static async Task RunAsync(string serverDll, int restarts, IReadOnlyDictionary<string, string>? environment, string? postgres)
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-bench-cold-").FullName;
        var server = await ServerProcess.StartAsync(serverDll, data, postgres, environment: environment);
        try
        {
            var accounts = new AccountService.AccountServiceClient(server.Channel);
            var fresh = Enumerable.Range(0, restarts).Select(i => $"cold-fresh-{i}").ToList();
            await TransferLoad.OpenFundedAsync(accounts, ["cold-big", .. fresh], "Cold");
            var batches = new GrpcBank.Contracts.Batch.V1.BatchService.BatchServiceClient(server.Channel);
            for (var b = 0; b < 2; b++)
            {
                var request = new GrpcBank.Contracts.Batch.V1.ExecuteBatchRequest { Atomic = true };
                for (var i = 0; i < 1_000; i++)
                    request.Commands.Add(new GrpcBank.Contracts.Batch.V1.BatchCommand
                    {
                        Deposit = new DepositMoneyRequest { AccountId = "cold-big", AmountMinor = 1, CurrencyCode = "EUR", Reference = "cold" },
                    });
                await batches.ExecuteBatchAsync(request);
            }
            await Task.Delay(1_000); // the snapshot is saved in the background
            for (var i = 0; i < restarts; i++)
            {
                await server.DisposeAsync();
                server = await ServerProcess.StartAsync(serverDll, data, postgres, environment: environment);
                accounts = new AccountService.AccountServiceClient(server.Channel);
                var big = await FirstAsync(accounts, "cold-big");
                var small = await FirstAsync(accounts, fresh[i]);
                var warm = await FirstAsync(accounts, "cold-big");
                Console.WriteLine($"  restart {i + 1}: started in {server.StartupTime.TotalMilliseconds:N0} ms; first deposit on a 2,001-event stream {big:N1} ms, on a fresh account {small:N1} ms, then {warm:N1} ms");
                // What the server warmed before it listened, and any warm-up that failed.
                foreach (var l in server.Log.Split('\n').Where(l => l.Contains("warmed up") || l.Contains("warm-up failed"))) Console.WriteLine("    " + l);
            }
        }
        finally
        {
            await server.DisposeAsync();
            Disk.Remove(data);
        }
    }

    private static async Task<double> FirstAsync(AccountService.AccountServiceClient accounts, string id)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", Reference = "cold" });
        return System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}
