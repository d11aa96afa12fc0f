using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Xunit;

namespace GrpcBank.Testing;

/// <summary>How to start the server process: its <c>--Key=Value</c> settings and where and how it runs.</summary>
public sealed record ServerLaunch(params (string Key, string Value)[] Settings)
{
    /// <summary>Passed as <c>--urls</c>; null passes none (the environment or the settings decide).</summary>
    public string? Urls { get; init; } = "http://127.0.0.1:0";

    /// <summary>The working directory; null: the server's own build folder.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Environment variables to set (a null value removes one the test run has).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Run as this user (through runuser, from a copy every user can read); null: as this process's user.</summary>
    public string? AsUser { get; init; }
}

/// <summary>
/// The real server as a child process (<c>dotnet GrpcBank.Server.dll</c>), by default on a loopback port the OS picks;
/// up once its health check says SERVING. It can be killed like <c>kill -9</c> and started again with the same
/// settings (and so the same storage), or run to its exit when it must refuse to start.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ServerLaunch launch;
    private Process? process;
    private SharedOutput output = new();
    private GrpcChannel? channel;

    private ServerProcess(ServerLaunch launch) => this.launch = launch;

    /// <summary>Where the server project's build put GrpcBank.Server.dll (set by GrpcBank.Testing.csproj).</summary>
    public static string DllPath =>
        typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerDll").Value!;

    public GrpcChannel Channel => channel ?? throw new InvalidOperationException("not running");

    /// <summary>The gRPC address, http://host:port.</summary>
    public string Url { get; private set; } = "";

    /// <summary>host:port, as the sample clients take it.</summary>
    public string Address => new Uri(Url).Authority;

    /// <summary>Started and not killed since.</summary>
    public bool IsRunning => process is not null;

    /// <summary>The server's process id while it runs (to read its CPU time from /proc).</summary>
    public int? ProcessId => process?.Id;

    /// <summary>What the server printed so far, for failure messages.</summary>
    public string Log => output.ToString();

    /// <summary>
    /// Waits (at most 30 s) until the server has printed <paramref name="text"/>; false if it has not. A line logged
    /// before the server reported SERVING (or answered a call) can still be on its way: the console logger writes from a
    /// queue on a thread of its own, and its output reaches this process through a pipe read in the background.
    /// </summary>
    public async Task<bool> PrintedAsync(string text)
    {
        var waited = Stopwatch.StartNew();
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(30)) return false;
            await Task.Delay(50);
        }
        return true;
    }

    /// <summary>Starts the server with <c>--Key=Value</c> settings and waits until it is SERVING.</summary>
    public static Task<ServerProcess> StartAsync(params (string Key, string Value)[] settings) => StartAsync(new ServerLaunch(settings));

    public static async Task<ServerProcess> StartAsync(ServerLaunch launch)
    {
        var server = new ServerProcess(launch);
        await server.StartAsync();
        return server;
    }

    /// <summary>Runs the server until it exits on its own (a server that must refuse to start), at most <paramref name="timeout"/>.</summary>
    public static async Task<ProcessResult> RunToExitAsync(ServerLaunch launch, TimeSpan timeout)
    {
        var (file, arguments, directory) = CommandOf(launch);
        return await ChildProcess.RunAsync(file, arguments, timeout, directory, launch.Environment);
    }

    /// <summary>Starts the server and returns at once, before it is SERVING: to stop it while it starts up.</summary>
    public static ServerProcess Launch(ServerLaunch launch)
    {
        var server = new ServerProcess(launch);
        var (file, arguments, directory) = CommandOf(launch);
        server.process = ChildProcess.Start(file, arguments, directory, launch.Environment);
        server.output = ChildProcess.Capture(server.process);
        return server;
    }

    /// <summary>
    /// Like <c>kill -TERM</c> (a service manager's stop, <c>docker stop</c>): the server's graceful stop. Returns its exit
    /// code once it has exited; kills it (and fails) if it has not within <paramref name="timeout"/>.
    /// </summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        var running = process ?? throw new InvalidOperationException("not running");
        var signal = ChildProcess.Start("kill", ["-TERM", running.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], Path.GetTempPath());
        await signal.WaitForExitAsync();
        try
        {
            await running.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new TimeoutException($"The server had not exited {timeout.TotalSeconds:0} s after SIGTERM; killed it. Its output:\n{Log}");
        }
        // The pipes' last lines: the exit above may come before the reader has handed them on.
        running.WaitForExit();
        var exitCode = running.ExitCode;
        // The channel stays (until Kill or a restart): calls still made on it meet the stopped server, as its clients do.
        running.Dispose();
        process = null;
        return exitCode;
    }

    /// <summary>Like <c>kill -9</c>: no shutdown hooks, no flushing; the process tree is gone when this returns.</summary>
    public void Kill()
    {
        if (process is not null)
        {
            ChildProcess.KillTree(process);
            process.Dispose();
            process = null;
        }
        // Only now: the calls in flight were cut by the kill, not by the client.
        channel?.Dispose();
        channel = null;
    }

    /// <summary>Starts it again with the same settings (and so the same storage) after <see cref="Kill"/>.</summary>
    public Task RestartAsync()
    {
        Kill();
        return StartAsync();
    }

    private async Task StartAsync()
    {
        Assert.True(File.Exists(DllPath), $"The server is not built: {DllPath} is missing");
        var (file, arguments, directory) = CommandOf(launch);
        process = ChildProcess.Start(file, arguments, directory, launch.Environment);
        output = ChildProcess.Capture(process);
        var started = Stopwatch.StartNew();
        Url = "";
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The server exited with {process.ExitCode} while starting:\n{Log}");
            if (started.Elapsed > StartTimeout)
            {
                Kill();
                throw new TimeoutException($"The server was not SERVING within {StartTimeout.TotalSeconds:0} s; killed it. Its output:\n{Log}");
            }
            if (channel is null && ListeningOn().Match(Log) is { Success: true } listening)
            {
                Url = listening.Groups[1].Value;
                channel = GrpcChannel.ForAddress(Url);
            }
            if (channel is not null && await IsServingAsync(channel)) return;
            await Task.Delay(100);
        }
    }

    public static async Task<bool> IsServingAsync(GrpcChannel channel)
    {
        try
        {
            var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    private static (string File, List<string> Arguments, string WorkingDirectory) CommandOf(ServerLaunch launch)
    {
        // runuser: as root, the only honest way to meet a directory this process may not write to. The other user
        // may not be able to read the checkout (a clone in a private temporary directory), so it runs a copy.
        var dll = launch.AsUser is null ? DllPath : ReadableCopy.Value;
        List<string> arguments = launch.AsUser is null ? [] : ["-u", launch.AsUser, "--", "dotnet"];
        arguments.Add(dll);
        if (launch.Urls is not null) arguments.AddRange(["--urls", launch.Urls]);
        arguments.AddRange(launch.Settings.Select(s => $"--{s.Key}={s.Value}"));
        return (launch.AsUser is null ? "dotnet" : "runuser", arguments, launch.WorkingDirectory ?? Path.GetDirectoryName(dll)!);
    }

    /// <summary>The server's build output copied where every user may read it; the path of the copied dll.</summary>
    private static readonly Lazy<string> ReadableCopy = new(() =>
    {
        if (OperatingSystem.IsWindows()) return DllPath; // runuser exists only where file modes do
        var source = Path.GetDirectoryName(DllPath)!;
        var target = Path.Combine(Path.GetTempPath(), "grpcbank-tests", $"server-{Guid.NewGuid():N}");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
        for (var dir = new DirectoryInfo(target); dir is not null && dir.FullName != Path.GetTempPath().TrimEnd('/'); dir = dir.Parent)
            dir.UnixFileMode |= UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        foreach (var entry in Directory.GetFileSystemEntries(target, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(entry, File.GetUnixFileMode(entry) | UnixFileMode.OtherRead | UnixFileMode.GroupRead
                | (Directory.Exists(entry) ? UnixFileMode.OtherExecute | UnixFileMode.GroupExecute : 0));
        return Path.Combine(target, Path.GetFileName(DllPath));
    });

    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }

    [GeneratedRegex(@"Now listening on: (http://(?:127\.0\.0\.1|\[::1\]|localhost):\d+)")]
    private static partial Regex ListeningOn();
}
