using System.Diagnostics;
using RabbitMQ.Client;
using Xunit;

namespace GrpcBank.Testing;

/// <summary>
/// A throwaway RabbitMQ node from the local binaries (Debian's rabbitmq-server), all of its own: node name, AMQP,
/// distribution and epmd ports, data and log directories, configuration, and Erlang cookie (its HOME). It can be
/// stopped and started again on the same port and data (a broker restart), or created without starting (a broker that
/// is down when the server starts). As root it runs as the rabbitmq user. Disposing stops it, ends its epmd and
/// removes its directory.
/// </summary>
public sealed class RabbitMqNode : IAsyncDisposable
{
    public const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    public const string ControlScript = "/usr/lib/rabbitmq/bin/rabbitmqctl";
    private const string User = "rabbitmq";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    private readonly string directory = Directory.CreateTempSubdirectory("grpcbank-rabbitmq-").FullName;
    private readonly string nodeName = $"grpcbank-{Guid.NewGuid():N}"[..20] + "@localhost";
    private readonly int epmdPort = FreePorts.Next();
    private readonly int distributionPort = FreePorts.Next();
    private Process? process;
    private SharedOutput output = new();

    private RabbitMqNode() => Port = FreePorts.Next();

    /// <summary>The AMQP port (loopback), the same across restarts.</summary>
    public int Port { get; }

    /// <summary>amqp://guest:guest@127.0.0.1:port/ — guest may connect over loopback only, which is all we use.</summary>
    public string Url => $"amqp://guest:guest@127.0.0.1:{Port}/";

    /// <summary>What the node printed since it was last started, for failure messages.</summary>
    public string Log => output.ToString();

    /// <summary>Why no node can be started here, or null.</summary>
    public static string? MissingReason => File.Exists(ServerScript)
        ? null
        : $"No RabbitMQ: {ServerScript} does not exist (apt-get install rabbitmq-server; .ci/run does)";

    /// <summary>A node of its own, started (or only prepared, with <paramref name="start"/> false); skips the test where there is none.</summary>
    public static async Task<RabbitMqNode> CreateAsync(bool start = true)
    {
        if (MissingReason is { } missing) Assert.Skip(missing);
        var node = new RabbitMqNode();
        await node.PrepareAsync();
        if (start) await node.StartAsync();
        return node;
    }

    private async Task PrepareAsync()
    {
        // The node's own configuration: AMQP on loopback only, no plugins (so no management or other ports).
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"),
            $"listeners.tcp.default = 127.0.0.1:{Port}\nlog.console.level = warning\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].\n");
        if (Environment.IsPrivilegedProcess) await PostgresServer.RunAsync("chown", "-R", $"{User}:{User}", directory);
    }

    /// <summary>Starts the node (again) and waits until it accepts AMQP connections.</summary>
    public async Task StartAsync()
    {
        if (process is { HasExited: false }) throw new InvalidOperationException("already running");
        process = ChildProcess.Start(AsNodeUser(out var arguments), [.. arguments, ServerScript], directory, null);
        output = ChildProcess.Capture(process);
        var started = Stopwatch.StartNew();
        var factory = new ConnectionFactory { Uri = new Uri(Url), RequestedConnectionTimeout = TimeSpan.FromSeconds(2), AutomaticRecoveryEnabled = false };
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"RabbitMQ exited with {process.ExitCode} while starting:\n{Log}{LogFiles()}");
            if (started.Elapsed > StartTimeout)
            {
                await StopAsync();
                throw new TimeoutException($"RabbitMQ did not accept connections within {StartTimeout.TotalSeconds:0} s:\n{Log}{LogFiles()}");
            }
            try
            {
                await using var connection = await factory.CreateConnectionAsync();
                return;
            }
            catch (Exception)
            {
                await Task.Delay(250);
            }
        }
    }

    /// <summary><c>rabbitmqctl stop</c>: the node shuts down cleanly and the port closes (killed if it does not within 60 s).</summary>
    public async Task StopAsync()
    {
        if (process is null) return;
        try
        {
            var file = AsNodeUser(out var arguments, control: true);
            var result = await ChildProcess.RunAsync(file, [.. arguments, ControlScript, "-n", nodeName, "stop"], TimeSpan.FromSeconds(60), directory);
            if (result.ExitCode != 0) Console.Error.WriteLine($"rabbitmqctl stop failed; killing the node. {result}");
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exited.Token);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"RabbitMQ did not stop cleanly ({e.Message}); killing it");
        }
        finally
        {
            ChildProcess.KillTree(process);
            process.Dispose();
            process = null;
        }
    }

    /// <summary>
    /// Runs <c>rabbitmqctl</c> against the node (<c>set_vm_memory_high_watermark 0.0000001</c> raises a memory alarm,
    /// which blocks publishers); fails with its output if it fails.
    /// </summary>
    public async Task ControlAsync(params string[] command)
    {
        var file = AsNodeUser(out var arguments, control: true);
        var result = await ChildProcess.RunAsync(file, [.. arguments, ControlScript, "-n", nodeName, .. command], TimeSpan.FromSeconds(60), directory);
        if (result.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', command)} failed: {result}");
    }

    /// <summary>
    /// Freezes the node (SIGSTOP to the Erlang VM, whose pid the node writes to its pid file): its connections stay open
    /// and it answers nothing, as a broker behind a network partition or a host that hangs. <see cref="ThawAsync"/> ends it.
    /// </summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    public Task ThawAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        var pid = (await File.ReadAllTextAsync(Path.Combine(directory, "pid"))).Trim();
        var result = await ChildProcess.RunAsync("kill", [$"-{signal}", pid], TimeSpan.FromSeconds(10), directory);
        if (result.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {pid} failed: {result}");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        // The node started an epmd of its own (on its own port); it outlives the node, so end it here.
        try
        {
            var file = AsNodeUser(out var arguments, control: true);
            await ChildProcess.RunAsync(file, [.. arguments, "epmd", "-port", epmdPort.ToString(), "-kill"], TimeSpan.FromSeconds(20), directory);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Could not end the test broker's epmd on port {epmdPort}: {e.Message}");
        }
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still being written by a process that is going away; the temporary folder is cleaned eventually.
        }
    }

    /// <summary>
    /// <c>env VAR=… </c> (under <c>runuser -u rabbitmq --</c> as root): the node's environment, given explicitly
    /// because runuser resets HOME — and HOME holds the Erlang cookie that rabbitmqctl must share with the node.
    /// </summary>
    private string AsNodeUser(out List<string> arguments, bool control = false)
    {
        arguments = Environment.IsPrivilegedProcess ? ["-u", User, "--", "env"] : [];
        arguments.AddRange([$"HOME={directory}", $"ERL_EPMD_PORT={epmdPort}", $"RABBITMQ_NODENAME={nodeName}"]);
        if (control)
        {
            // rabbitmqctl is a distributed Erlang node too; by default its port is derived from 5672 and may clash.
            var cliPort = FreePorts.Next();
            arguments.AddRange([$"RABBITMQ_CTL_DIST_PORT_MIN={cliPort}", $"RABBITMQ_CTL_DIST_PORT_MAX={cliPort}"]);
        }
        else
            arguments.AddRange([
                $"RABBITMQ_NODE_PORT={Port}", $"RABBITMQ_DIST_PORT={distributionPort}",
                $"RABBITMQ_MNESIA_BASE={directory}/mnesia", $"RABBITMQ_LOG_BASE={directory}/log",
                $"RABBITMQ_CONFIG_FILE={directory}/rabbitmq", $"RABBITMQ_ENABLED_PLUGINS_FILE={directory}/enabled_plugins",
                $"RABBITMQ_PID_FILE={directory}/pid",
            ]);
        return Environment.IsPrivilegedProcess ? "runuser" : "env";
    }

    private string LogFiles()
    {
        var logs = Path.Combine(directory, "log");
        return Directory.Exists(logs)
            ? string.Concat(Directory.GetFiles(logs).Select(f => $"\n--- {f}\n{string.Join('\n', File.ReadLines(f).TakeLast(40))}"))
            : "";
    }
}
