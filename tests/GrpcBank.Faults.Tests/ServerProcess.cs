using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// The real server as a child process (<c>dotnet GrpcBank.Server.dll</c>, run from its own output folder so that it finds
/// appsettings.json) on a loopback port the OS picks; up once its health check says SERVING. It can be killed like
/// <c>kill -9</c> and started again on the same storage.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string[] arguments;
    private Process? process;
    private Output output = new();
    private GrpcChannel? channel;

    private ServerProcess(string[] arguments) => this.arguments = arguments;

    /// <summary>Where the referenced server project's build put GrpcBank.Server.dll (set by the .csproj).</summary>
    public static string DllPath =>
        typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerDll").Value!;

    public GrpcChannel Channel => channel ?? throw new InvalidOperationException("not running");

    /// <summary>What the server printed so far, for failure messages.</summary>
    public string Log => output.ToString();

    /// <summary>Starts the server with <c>--Key=Value</c> settings and waits until it is SERVING.</summary>
    public static async Task<ServerProcess> StartAsync(params (string Key, string Value)[] settings)
    {
        var server = new ServerProcess(settings.Select(s => $"--{s.Key}={s.Value}").ToArray());
        await server.StartAsync();
        return server;
    }

    /// <summary>Runs the server until it exits on its own (a server that must refuse to start), at most <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(TimeSpan timeout, string? asUser, params (string Key, string Value)[] settings)
    {
        using var process = Launch(settings.Select(s => $"--{s.Key}={s.Value}").ToArray(), asUser);
        var output = Capture(process);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            process.WaitForExit();
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The server was expected to refuse to start, but still ran after {timeout.TotalSeconds:0} s:\n{output}");
        }
        return (process.ExitCode, output.ToString());
    }

    /// <summary>Like <c>kill -9</c>: no shutdown hooks, no flushing; the process tree is gone when this returns.</summary>
    public void Kill()
    {
        if (process is not null)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It had already exited.
            }
            process.WaitForExit(TimeSpan.FromSeconds(10));
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
        process = Launch(arguments, asUser: null);
        output = Capture(process);
        var started = Stopwatch.StartNew();
        string? url = null;
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The server exited with {process.ExitCode} while starting:\n{Log}");
            if (started.Elapsed > StartTimeout)
            {
                Kill();
                throw new TimeoutException($"The server was not SERVING within {StartTimeout.TotalSeconds:0} s; killed it. Its output:\n{Log}");
            }
            if (url is null && ListeningOn().Match(Log) is { Success: true } listening)
            {
                url = listening.Groups[1].Value;
                channel = GrpcChannel.ForAddress(url);
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

    private static Process Launch(string[] settings, string? asUser)
    {
        // runuser: as root, the only honest way to meet a directory this process may not write to. The other user
        // may not be able to read the checkout (a clone in a private temporary directory), so it runs a copy.
        var dll = asUser is null ? DllPath : ReadableCopy.Value;
        var start = new ProcessStartInfo(asUser is null ? "dotnet" : "runuser")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (asUser is not null)
            foreach (var prefix in new[] { "-u", asUser, "--", "dotnet" }) start.ArgumentList.Add(prefix);
        foreach (var argument in new[] { dll, "--urls", "http://127.0.0.1:0" }.Concat(settings)) start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        process.StandardInput.Close();
        return process;
    }

    /// <summary>The server's build output copied where every user may read it; the path of the copied dll.</summary>
    private static readonly Lazy<string> ReadableCopy = new(() =>
    {
        if (OperatingSystem.IsWindows()) return DllPath; // runuser exists only where file modes do
        var source = Path.GetDirectoryName(DllPath)!;
        var target = Path.Combine(Path.GetTempPath(), "grpcbank-faults", $"server-{Guid.NewGuid():N}");
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

    private static Output Capture(Process process)
    {
        var output = new Output();
        process.OutputDataReceived += (_, e) => output.Append(e.Data);
        process.ErrorDataReceived += (_, e) => output.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();

    private sealed class Output
    {
        private readonly StringBuilder text = new();

        public void Append(string? line)
        {
            if (line is null) return;
            lock (text) text.AppendLine(line);
        }

        public override string ToString()
        {
            lock (text) return text.ToString();
        }
    }
}
