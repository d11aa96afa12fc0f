using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.Bench;

/// <summary>
/// One server vs three on the same PostgreSQL (shared PostgreSQL read store): deposits/s at the same number of callers,
/// the three reached through gRPC client-side round robin, then with each account's commands sent to one of them; then
/// the relay's holder is killed (-9) and the time until a deposit written through a second server is readable
/// (min_position) on a third is the failover time.
/// </summary>
public sealed record MultiServerResult(PhaseResult One, PhaseResult Three, PhaseResult Partitioned, double FailoverMs)
{
    public double Ratio => Three.PerSecond / One.PerSecond;

    public double PartitionedRatio => Partitioned.PerSecond / One.PerSecond;

    private static string F(double v, int decimals = 0) => double.IsNaN(v) ? "–" : v.ToString("N" + decimals, CultureInfo.InvariantCulture);

    public void WriteRows(Action<string> line)
    {
        line($"| deposits/s with 3 servers ÷ 1 server on one PostgreSQL (x{Callers} callers, PostgreSQL read store) | {F(Three.PerSecond)} ÷ {F(One.PerSecond)} = **{F(Ratio, 2)}** | does not collapse (≥ 0.8 on 2 cores) | {(Ratio >= 0.8 ? "**met**" : "**missed**")} |");
        line($"| deposits/s with 3 servers ÷ 1, each account's commands through one server (x{Callers} callers) | {F(Partitioned.PerSecond)} ÷ {F(One.PerSecond)} = **{F(PartitionedRatio, 2)}** | – | – |");
        line($"| relay failover: kill -9 of its holder → a later write readable on another server | **{F(FailoverMs)} ms** | a few seconds | {(FailoverMs <= 5_000 ? "**met**" : "**missed**")} |");
    }

    public void WriteSection(StringBuilder o)
    {
        o.Append("## Several servers on one PostgreSQL\n\n");
        o.Append($"Deposits (uniform over {Accounts} accounts, fresh request ids) at {Callers} callers for the phase's length: first through one server, ");
        o.Append("then through three started on the same database with `ReadStore:Kind=Postgres`, reached with gRPC client-side round robin. ");
        o.Append("All three servers, PostgreSQL and the load generator share the machine's 2 cores: more servers cannot add CPU here, ");
        o.Append("so the point is that throughput does not collapse (cross-server conflicts, one shared relay), not that it grows.\n\n");
        o.Append("| phase | per second | p50 ms | p99 ms | ok | rejected | conflicts | failed |\n|---|---|---|---|---|---|---|---|\n");
        foreach (var r in new[] { One, Three, Partitioned })
            o.Append($"| {r.Name} | {F(r.PerSecond)} | {F(r.P(50), 2)} | {F(r.P(99), 2)} | {r.Ok} | {r.Rejected} | {r.Conflicts} | {r.Failed} |\n");
        o.Append("\nWhat costs is one account written through several servers, not several servers. Each server decides on its ");
        o.Append("own cached state of an account, and round robin sends each account's commands to all three in turn: a command on ");
        o.Append("an account another server wrote since loses the append's version guard, reads the account again and appends once ");
        o.Append("more. A server that has lost such a race follows the others' appends into its cached states (`OtherWriters`, ");
        o.Append("README), so most commands decide on a current state; the rest come a moment after another server's write, before ");
        o.Append("following reached it, and two servers' appends to one account sometimes pass their guards at once and the later ");
        o.Append("group is refused at the unique key and written again. In interleaved `servers --quick` runs of the same load ");
        o.Append("(the bench author's measurement, not this run's figures), stream reads fell from ~70 % of round-robin deposits ");
        o.Append("(1,647 for 2,351; 2,328 for 3,419) to ~13 % (815 for 5,699; 778 for 5,783), and three servers from 772 and ");
        o.Append("1,118/s to 1,872 and 1,872/s. With each account's commands routed to one server (the last row: accounts split into three fixed sets, ");
        o.Append("one per server, as a router hashing the account id would), the three share the machine's cores without undoing ");
        o.Append("each other's work; what it leaves below one server is three processes on the same 2 cores, each committing groups ");
        o.Append("a third the size (in a trial, the same load sent through only one of the three running servers kept 0.84 of one ");
        o.Append("server's rate). A transfer still meets the payee's server's writes on the payee's account.\n");
        o.Append($"\nRelay failover: the server holding the relay lease killed with SIGKILL; a deposit through a second server, then ");
        o.Append($"`GetAccount(min_position)` on the third answered **{F(FailoverMs)} ms** after the kill (lease poll 500 ms; the dead ");
        o.Append("backend's advisory lock is released when PostgreSQL notices the closed connection).\n\n");
    }

    public const int Callers = 64;
    public const int Accounts = 500;
}

public static class MultiServerBench
{
    public static async Task<MultiServerResult> RunAsync(string serverDll, TimeSpan phase)
    {
        await using var pg = await PgCluster.StartAsync();
        await pg.ExecAsync("create database multi");
        await pg.ExecAsync("create extension pg_stat_statements", "multi");
        await pg.TrackPlanningAsync();
        var settings = new Dictionary<string, string>
        {
            ["ReadStore__Kind"] = "Postgres",
            ["Query__PageTokenKey"] = "bench-multi-server-page-token-key-0123456789",
        };
        var servers = new List<ServerProcess>();
        var directories = new List<string>();
        try
        {
            Task<ServerProcess> Start()
            {
                directories.Add(Directory.CreateTempSubdirectory("grpcbank-bench-multi-").FullName);
                return ServerProcess.StartAsync(serverDll, directories[^1], pg.ConnectionString("multi"), environment: settings);
            }
            servers.Add(await Start());
            var accounts = new AccountService.AccountServiceClient(servers[0].Channel);
            var ids = await TransferLoad.OpenFundedAsync(accounts, Enumerable.Range(1, MultiServerResult.Accounts).Select(i => $"m-{i:D4}").ToList(), "Multi");
            await Load.WarmUpAsync(servers, 16, TransferLoad.Deposit(accounts, ids));
            var one = await WithStatementsAsync(pg, () => Load.ClosedAsync($"1 server, deposits closed x{MultiServerResult.Callers}", MultiServerResult.Callers, phase, TransferLoad.Deposit(accounts, ids)));

            servers.AddRange(await Task.WhenAll(Start(), Start()));
            using var roundRobin = RoundRobin(servers);
            var spread = new AccountService.AccountServiceClient(roundRobin);
            await Load.WarmUpAsync(servers, 16, TransferLoad.Deposit(spread, ids));
            var three = await WithStatementsAsync(pg, () => Load.ClosedAsync($"3 servers, deposits closed x{MultiServerResult.Callers}", MultiServerResult.Callers, phase, TransferLoad.Deposit(spread, ids)));

            // Accounts split into one fixed set per server; each call goes to a random server, on one of its accounts.
            var perServer = servers.Select((server, k) => TransferLoad.Deposit(new AccountService.AccountServiceClient(server.Channel),
                ids.Where((_, i) => i % servers.Count == k).ToList())).ToList();
            Func<Random, Func<Task<Outcome>>> routed = rng => perServer[rng.Next(perServer.Count)](rng);
            await Load.WarmUpAsync(servers, 16, routed);
            var partitioned = await WithStatementsAsync(pg, () => Load.ClosedAsync($"3 servers, each account through one, deposits closed x{MultiServerResult.Callers}",
                MultiServerResult.Callers, phase, routed));

            var holder = servers.FindIndex(s => s.Log.Contains("Outbox relay active"));
            if (holder < 0) throw new InvalidOperationException("no server says it runs the relay");
            var killed = Stopwatch.StartNew();
            servers[holder].Kill();
            var writer = servers[(holder + 1) % 3];
            var reader = new QueryService.QueryServiceClient(servers[(holder + 2) % 3].Channel);
            var after = await new AccountService.AccountServiceClient(writer.Channel).DepositMoneyAsync(new DepositMoneyRequest
            {
                AccountId = ids[0], AmountMinor = 1, CurrencyCode = "EUR", RequestId = RequestIds.Next(),
            });
            await reader.GetAccountAsync(new GetAccountRequest { AccountId = ids[0], MinPosition = after.Position }, deadline: DateTime.UtcNow.AddSeconds(60));
            var failover = killed.Elapsed.TotalMilliseconds;
            Console.WriteLine($"  relay failover: {failover:N0} ms");
            return new MultiServerResult(one, three, partitioned, failover);
        }
        finally
        {
            foreach (var server in servers) await server.DisposeAsync();
            foreach (var directory in directories) Disk.Remove(directory);
        }
    }

    /// <summary>Runs a phase and prints it with the database's statements and rolled-back transactions (lost races) during it.</summary>
    private static async Task<PhaseResult> WithStatementsAsync(PgCluster pg, Func<Task<PhaseResult>> phase)
    {
        const string Rollbacks = "select xact_rollback from pg_stat_database where datname = 'multi'";
        await pg.ResetStatementsAsync("multi");
        var before = await pg.ScalarAsync<long>(Rollbacks);
        var result = await phase();
        Console.WriteLine("  " + result);
        Console.WriteLine($"      {await pg.ScalarAsync<long>(Rollbacks) - before:N0} transactions rolled back");
        await pg.PrintStatementsAsync("multi", 5);
        return result;
    }

    private static GrpcChannel RoundRobin(IEnumerable<ServerProcess> servers)
    {
        var addresses = servers.Select(s => new Uri(s.Address)).Select(u => new BalancerAddress(u.Host, u.Port)).ToArray();
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        return GrpcChannel.ForAddress("static:///grpcbank-bench", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            ServiceProvider = services.BuildServiceProvider(),
        });
    }
}
