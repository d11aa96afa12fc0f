using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A PostgreSQL cluster of its own, which a test may stop and start again on the same port (the shared
/// <see cref="PostgresServer"/> must never be stopped). As root, its commands run as the postgres user.
/// </summary>
public sealed class ThrowawayCluster : IAsyncDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("grpcbank-faults-pg-").FullName;
    private int port;

    private string DataDirectory => Path.Combine(directory, "data");

    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = port, Username = "postgres", Database = "postgres",
        // Fail fast while it is down, so that writers hear UNAVAILABLE well within their deadlines.
        Timeout = 3, CommandTimeout = 10,
    }.ConnectionString;

    public static async Task<ThrowawayCluster> StartAsync()
    {
        if (!File.Exists(Path.Combine(PostgresServer.BinDirectory, "initdb")))
            Assert.Skip($"No PostgreSQL binaries in {PostgresServer.BinDirectory}");
        var cluster = new ThrowawayCluster();
        if (Environment.IsPrivilegedProcess) await RunAsync("chown", "postgres:postgres", cluster.directory);
        await RunAsync(Path.Combine(PostgresServer.BinDirectory, "initdb"),
            "-D", cluster.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");
        cluster.port = FreePorts.Next();
        await cluster.StartAgainAsync();
        return cluster;
    }

    /// <summary><c>pg_ctl -m fast stop</c>: sessions are terminated, the port closes.</summary>
    public Task StopAsync() => RunAsync(Path.Combine(PostgresServer.BinDirectory, "pg_ctl"), "-D", DataDirectory, "-m", "fast", "-w", "stop");

    public Task StartAgainAsync() => RunAsync(Path.Combine(PostgresServer.BinDirectory, "pg_ctl"),
        "-D", DataDirectory, "-l", Path.Combine(directory, "log"), "-w",
        "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off -c synchronous_commit=off -c max_connections=200",
        "start");

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await RunAsync(Path.Combine(PostgresServer.BinDirectory, "pg_ctl"), "-D", DataDirectory, "-m", "immediate", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        Directory.Delete(directory, recursive: true);
    }

    private static Task RunAsync(string file, params string[] arguments) => PostgresServer.RunAsync(file, arguments);
}
