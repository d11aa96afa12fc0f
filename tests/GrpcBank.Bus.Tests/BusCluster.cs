namespace GrpcBank.Bus.Tests;

/// <summary>
/// Several real server processes as one bank (one PostgreSQL), each on a fixed loopback port so a restarted one comes
/// back at the same address, each with its own data directory.
/// </summary>
public sealed class BusCluster : IAsyncDisposable
{
    private readonly List<string> directories;

    private BusCluster(ServerProcess[] servers, List<string> directories)
    {
        Servers = servers;
        this.directories = directories;
    }

    public ServerProcess[] Servers { get; }

    public ServerProcess this[int index] => Servers[index];

    public static async Task<BusCluster> StartAsync(int count, params (string Key, string Value)[] settings)
    {
        var directories = Enumerable.Range(0, count).Select(_ => Directory.CreateTempSubdirectory("grpcbank-bus-cluster-").FullName).ToList();
        var servers = await Task.WhenAll(directories.Select(directory => ServerProcess.StartAsync(
            new ServerLaunch([.. settings, ("Storage:DataDirectory", directory)]) { Urls = $"http://127.0.0.1:{FreePorts.Next()}" })));
        return new BusCluster(servers, directories);
    }

    /// <summary>The running servers whose bus has published (it logs so once it has connected, since it last started).</summary>
    public IReadOnlyList<int> Publishers =>
        [.. Enumerable.Range(0, Servers.Length).Where(i => Servers[i].IsRunning && Servers[i].Log.Contains("Event bus connected"))];

    public async ValueTask DisposeAsync()
    {
        foreach (var server in Servers) await server.DisposeAsync();
        foreach (var directory in directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left to the temporary folder's cleaning.
            }
        }
    }
}
