using System.Diagnostics;
using GrpcBank.Bench;

// dotnet run -c Release --project tools/GrpcBank.Bench -- [--quick] [--out FILE]   end-to-end run, writes BENCHMARKS.md
//   (GRPCBANK_BENCH_PERF=DIR in the environment: perf samples the server through the replay, into DIR/replay.perf.data)
// dotnet run -c Release --project tools/GrpcBank.Bench -- micro [BenchmarkDotNet args]   micro-benchmarks
// dotnet run -c Release --project tools/GrpcBank.Bench -- transfers [--quick]   only transfers vs deposits and the snapshot property
// dotnet run -c Release --project tools/GrpcBank.Bench -- bus [--quick]   only the event bus: published events/s vs the relay, reply → receipt delay
// dotnet run -c Release --project tools/GrpcBank.Bench -- readside [--quick]   only the read side: replay, steady relay, freshness under load, cold command
// dotnet run -c Release --project tools/GrpcBank.Bench -- servers [--quick]     only 1 vs 3 servers on one PostgreSQL and the relay failover
// dotnet run -c Release --project tools/GrpcBank.Bench -- relaycost [--seconds N] [--rounds N] [--backlog N] [--replay] [--perf DIR] [--env NAME=VALUE]...   relay on vs off at saturation (PostgreSQL), statements, CPU
// dotnet run -c Release --project tools/GrpcBank.Bench -- appendprobe [--seconds N] [--rounds N]   one caller's append: pgbench, Npgsql, the store; planning and execution per statement
// dotnet run -c Release --project tools/GrpcBank.Bench -- cold [--env NAME=VALUE]...   first command after a restart (embedded, quick)
// dotnet run -c Release --project tools/GrpcBank.Bench -- cost [--pg] [--embedded] [--seconds N] [--callers 64,1,16] [--kinds empty,deposits,uniform,zipf,transfers,atomic-batches,independent-batches] [--accounts N] [--env NAME=VALUE]... [--trace DIR]   server CPU µs per deposit, uniform command (the full run's deposits and withdrawals; zipf: the same over Zipf(1.1)-drawn accounts), transfer and batched deposit, and per empty call (refused by validation), over N funded accounts (default 200) (PostgreSQL: each phase's statements)
var root = RepoRoot();
if (args.Length > 0 && args[0] == "micro")
{
    Micro.Run(root, args[1..]);
    return 0;
}

var quick = args.Contains("--quick");
if (args.Length > 0 && args[0] == "transfers")
{
    // Only the transfer section (both stores), printed: for a quick look on a shared machine.
    var results = await new Run(root, quick ? RunSettings.Quick : RunSettings.Full).TransfersOnlyAsync();
    foreach (var r in results) r.WriteRows(Console.WriteLine);
    return results.SelectMany(r => r.Failures).Any() ? 1 : 0;
}

if (args.Length > 0 && args[0] == "bus")
{
    // Only the event bus section (embedded mode, a throwaway RabbitMQ node), printed as the BENCHMARKS.md section.
    if (GrpcBank.Testing.RabbitMqNode.MissingReason is { } missing)
    {
        Console.WriteLine($"event bus skipped: {missing}");
        return 0;
    }
    var bus = await new Run(root, quick ? RunSettings.Quick : RunSettings.Full).BusOnlyAsync(quick);
    var section = new System.Text.StringBuilder();
    bus.WriteRows(line => section.Append(line).Append('\n'));
    section.Append('\n');
    bus.WriteSection(section);
    Console.WriteLine(section);
    return 0;
}

if (args.Length > 0 && args[0] == "readside")
{
    // Only the read side's figures (replay, steady relay, freshness under load, cold first command), printed.
    var readSide = await new Run(root, quick ? RunSettings.Quick : RunSettings.Full).ReadSideOnlyAsync();
    readSide.WriteReadSideRows(Console.WriteLine);
    return 0;
}

if (args.Length > 0 && args[0] == "cost")
{
    var seconds = Array.IndexOf(args, "--seconds") is var si and >= 0 ? int.Parse(args[si + 1], System.Globalization.CultureInfo.InvariantCulture) : 5;
    var trace = Array.IndexOf(args, "--trace") is var ti and >= 0 ? Path.GetFullPath(args[ti + 1]) : null;
    var callers = Array.IndexOf(args, "--callers") is var ci and >= 0
        ? args[ci + 1].Split(',').Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray()
        : [64, 1, 16, 64];
    var both = !args.Contains("--pg") && !args.Contains("--embedded");
    var kinds = Array.IndexOf(args, "--kinds") is var ki and >= 0 ? args[ki + 1].Split(',').ToHashSet() : null;
    var accounts = Array.IndexOf(args, "--accounts") is var ai and >= 0 ? int.Parse(args[ai + 1], System.Globalization.CultureInfo.InvariantCulture) : TransferResult.Accounts;
    await new Run(root, RunSettings.Quick).CommandCostAsync(both || args.Contains("--pg"), both || args.Contains("--embedded"), TimeSpan.FromSeconds(seconds), trace, callers,
        ServerEnvironment(args), kinds, accounts);
    return 0;
}

if (args.Length > 0 && args[0] == "appendprobe")
{
    int Option(string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    await AppendProbe.RunAsync(root, Option("--seconds", 5), Option("--rounds", 2));
    return 0;
}

if (args.Length > 0 && args[0] == "relaycost")
{
    int Option(string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    var perf = Array.IndexOf(args, "--perf") is var pi and >= 0 ? Path.GetFullPath(args[pi + 1]) : null;
    await new Run(root, RunSettings.Quick).RelayCostAsync(TimeSpan.FromSeconds(Option("--seconds", 10)), Option("--rounds", 2), Option("--backlog", 0), args.Contains("--replay"), perf,
        ServerEnvironment(args));
    return 0;
}

if (args.Length > 0 && args[0] == "cold")
{
    // The first command after a restart, embedded (or on PostgreSQL with --pg), with the server as built (no build step:
    // build it in Release first).
    var env = ServerEnvironment(args);
    var serverDll = Path.Combine(root, "src/GrpcBank.Server/bin/Release/net10.0/GrpcBank.Server.dll");
    if (!args.Contains("--pg"))
    {
        await ColdCommand.RunAsync(serverDll, 3, env, postgres: null);
        return 0;
    }
    await using var pg = await PgCluster.StartAsync();
    await pg.ExecAsync("create database bank");
    await ColdCommand.RunAsync(serverDll, 3, env, pg.ConnectionString("bank"));
    return 0;
}

if (args.Length > 0 && args[0] == "servers")
{
    var result = await new Run(root, quick ? RunSettings.Quick : RunSettings.Full).ServersOnlyAsync();
    result.WriteRows(Console.WriteLine);
    return 0;
}

var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 && outIndex + 1 < args.Length
    ? Path.GetFullPath(args[outIndex + 1])
    : Path.Combine(root, quick ? "BENCHMARKS.quick.md" : "BENCHMARKS.md");
var settings = quick ? RunSettings.Quick : RunSettings.Full;

var total = Stopwatch.StartNew();
try
{
    var report = await new Run(root, settings).ExecuteAsync();
    report.Write(output, total.Elapsed);
    Console.WriteLine($"\nwrote {output} in {total.Elapsed:mm\\:ss}");
    if (report.Failures.Count > 0)
    {
        Console.Error.WriteLine("INVARIANTS BROKEN:");
        foreach (var f in report.Failures) Console.Error.WriteLine("  " + f);
        return 1;
    }
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"bench failed after {total.Elapsed:mm\\:ss}: {e}");
    return 2;
}

// The server's environment variables given as --env NAME=VALUE (cost, relaycost, cold).
static Dictionary<string, string> ServerEnvironment(string[] args) =>
    args.Select((a, i) => a == "--env" ? args[i + 1].Split('=', 2) : null).OfType<string[]>().ToDictionary(kv => kv[0], kv => kv[1]);

static string RepoRoot()
{
    foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpcBank.sln"))) return dir.FullName;
    throw new InvalidOperationException("run from inside the GrpcBank repository (GrpcBank.sln not found above the working directory)");
}
