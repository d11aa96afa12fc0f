using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Npgsql;

namespace GrpcBank.Bench;

/// <summary>Runs a program to completion and returns its standard output; throws on a non-zero exit.</summary>
public static class Shell
{
    public static async Task<string> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, bool check = true)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}: {await stderr}{await stdout}");
        return await stdout + await stderr;
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}

/// <summary>
/// The disk as each measurement should find it: nothing left to write back from the phases before. An earlier phase's
/// dirty pages (a PostgreSQL cluster's WAL and tables) are written back by the kernel in the background and share the
/// disk with the next phase's fsyncs: interleaved `cost --embedded --callers 16` rounds started right after 2 GB of
/// unsynced writes ran 4,377 and 5,081 deposits/s, after a sync 5,219 and 5,307.
/// </summary>
public static class Disk
{
    public static Task SettleAsync() => Shell.RunAsync("sync", []);

    /// <summary>Removes a scratch directory of the bench; one it cannot remove (still in use) is left behind, not an error.</summary>
    public static void Remove(string directory)
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A throwaway PostgreSQL 15 cluster with durable settings (fsync on, synchronous_commit on).</summary>
public sealed class PgCluster : IAsyncDisposable
{
    public const string Bin = "/usr/lib/postgresql/15/bin";

    /// <summary>Everything that differs from PostgreSQL's defaults. Durability settings stay at their defaults.</summary>
    public static readonly string[] Settings =
    [
        "fsync=on", "synchronous_commit=on", "full_page_writes=on", "wal_sync_method=fdatasync",
        "max_connections=300", "shared_buffers=512MB", "max_wal_size=4GB",
        "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
    ];

    public string Directory { get; }
    public int Port { get; }

    private PgCluster(string directory, int port) => (Directory, Port) = (directory, port);

    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, MaxPoolSize = 200,
    }.ConnectionString;

    public static async Task<PgCluster> StartAsync()
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("grpcbank-bench-pg-").FullName;
        var root = Environment.IsPrivilegedProcess;
        if (root) await Shell.RunAsync("chown", ["postgres:postgres", dir]);
        await AsPostgres(root, Path.Combine(Bin, "initdb"), ["-D", Path.Combine(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"]);
        var port = Shell.FreePort();
        var options = $"-c listen_addresses=127.0.0.1 -p {port} -k {dir} " + string.Join(' ', Settings.Select(s => "-c " + s));
        await AsPostgres(root, Path.Combine(Bin, "pg_ctl"), ["-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "log"), "-w", "-o", options, "start"]);
        return new PgCluster(dir, port);
    }

    private static Task<string> AsPostgres(bool root, string file, string[] args) =>
        root ? Shell.RunAsync("runuser", ["-u", "postgres", "--", file, .. args]) : Shell.RunAsync(file, args);

    /// <summary>Has pg_stat_statements time planning too (off by default: it costs a little under many clients).</summary>
    public async Task TrackPlanningAsync()
    {
        await ExecAsync("alter system set pg_stat_statements.track_planning = on");
        await ExecAsync("select pg_reload_conf()");
    }

    /// <summary>Clears pg_stat_statements (of every database; <paramref name="database"/> must have the extension).</summary>
    public Task ResetStatementsAsync(string database) => ExecAsync("select pg_stat_statements_reset()", database);

    /// <summary>
    /// Prints the statements of <paramref name="database"/> (which has the pg_stat_statements extension) taking the most
    /// server time, one line each: calls, mean execution, plans, mean planning.
    /// </summary>
    public async Task PrintStatementsAsync(string database, int count)
    {
        var rows = await RowsAsync($"""
            select calls, round((total_exec_time / greatest(calls, 1) * 1000)::numeric, 0), plans, round((total_plan_time / greatest(plans, 1) * 1000)::numeric, 0),
                   left(regexp_replace(query, '\s+', ' ', 'g'), 60)
            from pg_stat_statements s join pg_database d on d.oid = s.dbid
            where d.datname = current_database() and calls > 1 order by total_exec_time + total_plan_time desc limit {count}
            """, database);
        foreach (var r in rows) Console.WriteLine($"      {r[0],8} calls  exec {r[1],5} µs  {r[2],8} plans  {r[3],4} µs  {r[4]}");
    }

    public async Task ExecAsync(string sql, string database = "postgres")
    {
        await using var c = new NpgsqlConnection(ConnectionString(database));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 600 };
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, string database = "postgres")
    {
        await using var c = new NpgsqlConnection(ConnectionString(database));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 600 };
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task<List<object[]>> RowsAsync(string sql, string database = "postgres")
    {
        await using var c = new NpgsqlConnection(ConnectionString(database));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 600 };
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<object[]>();
        while (await r.ReadAsync())
        {
            var row = new object[r.FieldCount];
            r.GetValues(row);
            rows.Add(row);
        }
        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await AsPostgres(Environment.IsPrivilegedProcess, Path.Combine(Bin, "pg_ctl"), ["-D", Path.Combine(Directory, "data"), "-m", "fast", "-w", "stop"]);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"could not stop PostgreSQL: {e.Message}");
        }
        Disk.Remove(Directory);
    }
}

/// <summary>Group commits written and the appends they held (a difference of two readings: during a phase).</summary>
public sealed record GroupCommits(long Commits, long Appends)
{
    public static GroupCommits operator -(GroupCommits after, GroupCommits before) => new(after.Commits - before.Commits, after.Appends - before.Appends);
}

/// <summary>The real server as a child process (<c>dotnet GrpcBank.Server.dll</c>, Release build).</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder log = new();
    public string Address { get; }
    public GrpcChannel Channel { get; }
    /// <summary>Spawn → first successful health check.</summary>
    public TimeSpan StartupTime { get; private set; }
    public DateTime SpawnedAt { get; }

    private ServerProcess(Process process, string address, DateTime spawnedAt)
    {
        (this.process, Address, SpawnedAt) = (process, address, spawnedAt);
        Channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan },
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
    }

    public string Log { get { lock (log) return log.ToString(); } }

    public TimeSpan CpuTime { get { process.Refresh(); return process.TotalProcessorTime; } }

    /// <summary>
    /// CPU time of the runtime's background compiler thread (".NET Tiered Com"), which recompiles hot methods at tier 1;
    /// zero when it cannot be read (no such thread yet, not Linux).
    /// </summary>
    public TimeSpan JitCpuTime
    {
        get
        {
            try
            {
                foreach (var task in Directory.EnumerateDirectories($"/proc/{process.Id}/task"))
                {
                    if (File.ReadAllText(Path.Combine(task, "comm")).Trim() != ".NET Tiered Com") continue;
                    // utime and stime: the 14th and 15th fields of stat, the 12th and 13th after the name's closing parenthesis.
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                    return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            return TimeSpan.Zero;
        }
    }

    public int ProcessId => process.Id;

    /// <summary>
    /// The group commits this server has written so far and the appends they held (its <c>grpcbank_append_group_size</c>,
    /// result written), scraped from <c>/metrics</c> on its own port (served there while it runs without API keys).
    /// </summary>
    public async Task<GroupCommits> GroupCommitsAsync()
    {
        using var http = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var scrape = await http.GetStringAsync(Address + "/metrics");
        long Total(string series) => (long)scrape.Split('\n')
            .Where(line => line.StartsWith(series + "{", StringComparison.Ordinal) && line.Contains("result=\"written\"", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        return new GroupCommits(Total("grpcbank_append_group_size_count"), Total("grpcbank_append_group_size_sum"));
    }

    /// <summary>The runtime's settings this server was started with, as the Dockerfile gives them (<see cref="DeployedRuntimeSettings"/>).</summary>
    public IReadOnlyDictionary<string, string> RuntimeSettings { get; private init; } = new Dictionary<string, string>();

    /// <summary>
    /// The runtime's settings (<c>ENV DOTNET_…</c>) that the repository's Dockerfile gives the server, so that the bench
    /// measures the server as it is deployed. Found by walking up from the server's build folder; none without a Dockerfile.
    /// </summary>
    private static IReadOnlyDictionary<string, string> DeployedRuntimeSettings(string serverDll)
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(serverDll))!); dir is not null; dir = dir.Parent)
        {
            var dockerfile = Path.Combine(dir.FullName, "Dockerfile");
            if (!File.Exists(dockerfile)) continue;
            return File.ReadLines(dockerfile)
                .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"^ENV (DOTNET_\w+)=(\S+)$"))
                .Where(m => m.Success)
                .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        }
        return new Dictionary<string, string>();
    }

    /// <param name="postgres">null: embedded mode (SQLite under <paramref name="dataDirectory"/>).</param>
    /// <param name="environment">More settings, as environment variables (e.g. <c>Bus__RabbitMq__Url</c>).</param>
    public static async Task<ServerProcess> StartAsync(
        string serverDll, string dataDirectory, string? postgres, bool relay = true, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = Shell.FreePort();
        var address = $"http://127.0.0.1:{port}";
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(serverDll)! };
        psi.ArgumentList.Add(serverDll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(address);
        psi.Environment["Storage__DataDirectory"] = dataDirectory;
        psi.Environment["ConnectionStrings__Postgres"] = postgres ?? "";
        psi.Environment["Relay__Enabled"] = relay ? "true" : "false";
        // The default (10,000 per caller per second) would throttle the load generator, which is one caller.
        psi.Environment["Auth__RequestsPerSecond"] = "10000000";
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__GrpcBank"] = "Information";
        psi.Environment["Kestrel__EndpointDefaults__Protocols"] = "Http2";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var deployed = DeployedRuntimeSettings(serverDll);
        foreach (var (key, value) in deployed) psi.Environment[key] = value;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        var spawned = DateTime.UtcNow;
        var p = Process.Start(psi)!;
        var server = new ServerProcess(p, address, spawned) { RuntimeSettings = deployed };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server.log) server.log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server.log) server.log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var health = new Health.HealthClient(server.Channel);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (p.HasExited) throw new InvalidOperationException($"server exited with {p.ExitCode}:\n{server.Log}");
            try
            {
                var r = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                if (r.Status == HealthCheckResponse.Types.ServingStatus.Serving) break;
            }
            catch (Grpc.Core.RpcException) { }
            if (sw.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"server did not become healthy:\n{server.Log}");
            await Task.Delay(20);
        }
        server.StartupTime = DateTime.UtcNow - spawned;
        return server;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>SIGKILL: no shutdown at all, as a crashed machine.</summary>
    public void Kill()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>SIGTERM (graceful shutdown), then waits; SIGKILL after 30 s.</summary>
    public async Task StopAsync()
    {
        if (process.HasExited) return;
        kill(process.Id, 15);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); await process.WaitForExitAsync(); }
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await StopAsync();
        process.Dispose();
    }
}
