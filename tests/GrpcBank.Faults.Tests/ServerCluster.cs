using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using GrpcBank.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Several real server processes on one PostgreSQL database with the shared PostgreSQL read store, each on a fixed
/// loopback port (so a restarted one comes back at the same address) with its own metrics endpoint; and a channel that
/// spreads calls over all of them with gRPC's client-side round robin.
/// </summary>
public sealed partial class ServerCluster : IAsyncDisposable
{
    private readonly int[] metricsPorts;

    private ServerCluster(ServerProcess[] servers, int[] metricsPorts)
    {
        Servers = servers;
        this.metricsPorts = metricsPorts;
        RoundRobin = RoundRobinChannel(servers);
    }

    public ServerProcess[] Servers { get; }

    /// <summary>Calls spread over every server, round robin; a server that is down is skipped until it is back.</summary>
    public GrpcChannel RoundRobin { get; }

    public static async Task<ServerCluster> StartAsync(string connectionString, int count)
    {
        var metricsPorts = Enumerable.Range(0, count).Select(_ => FreePorts.Next()).ToArray();
        var launches = metricsPorts.Select(metrics => new ServerLaunch(
            ("ConnectionStrings:Postgres", connectionString),
            ("ReadStore:Kind", "Postgres"),
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()),
            // Servers behind one address must sign page tokens alike (README, "Search and paging").
            ("Query:PageTokenKey", "multi-server-specs-page-token-key-0123456789"),
            ("Metrics:Url", $"http://127.0.0.1:{metrics}"))
        {
            Urls = $"http://127.0.0.1:{FreePorts.Next()}",
        }).ToList();
        var servers = await Task.WhenAll(launches.Select(launch => ServerProcess.StartAsync(launch)));
        return new ServerCluster(servers, metricsPorts);
    }

    private static GrpcChannel RoundRobinChannel(IEnumerable<ServerProcess> servers)
    {
        var addresses = servers.Select(s => new Uri(s.Url)).Select(u => new BalancerAddress(u.Host, u.Port)).ToArray();
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        return GrpcChannel.ForAddress("static:///grpcbank", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            ServiceProvider = services.BuildServiceProvider(),
        });
    }

    /// <summary>The server whose relay is active (it logged so since it last started), waiting up to <paramref name="timeout"/>.</summary>
    public async Task<int> RelayHolderAsync(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var holders = Enumerable.Range(0, Servers.Length).Where(i => Servers[i].IsRunning && Servers[i].Log.Contains("Outbox relay active")).ToList();
            if (holders is [var holder]) return holder;
            Assert.True(holders.Count <= 1, $"servers {string.Join(", ", holders)} all run the relay");
            if (DateTime.UtcNow > until) throw new TimeoutException("no server took the relay lease");
            await Task.Delay(50);
        }
    }

    /// <summary>Appends by result (appended, conflict, duplicate_request) as server <paramref name="index"/> counted them since it started.</summary>
    public async Task<IReadOnlyDictionary<string, long>> AppendsAsync(int index)
    {
        using var http = new HttpClient();
        var scrape = await http.GetStringAsync($"http://127.0.0.1:{metricsPorts[index]}/metrics");
        return AppendCount().Matches(scrape)
            .GroupBy(m => m.Groups["result"].Value)
            .ToDictionary(g => g.Key, g => g.Sum(m => (long)double.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture)));
    }

    public async ValueTask DisposeAsync()
    {
        RoundRobin.Dispose();
        foreach (var server in Servers) await server.DisposeAsync();
    }

    [GeneratedRegex("""^grpcbank_append_duration\w*_count\{[^}]*result="(?<result>\w+)"[^}]*\} (?<count>[0-9.e+]+)""", RegexOptions.Multiline)]
    private static partial Regex AppendCount();
}
