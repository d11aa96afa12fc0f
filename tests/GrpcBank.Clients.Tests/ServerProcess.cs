using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace GrpcBank.Clients.Tests;

/// <summary>
/// The real server as a child process (<c>dotnet GrpcBank.Server.dll</c>) on a loopback port the OS picks, with its
/// own data directory and one API key with every role, up once its gRPC health check says SERVING. Disposing kills
/// its process tree and removes the data.
/// </summary>
public sealed partial class ServerProcess : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string dataDirectory = Directory.CreateTempSubdirectory("grpcbank-clients-").FullName;
    private Process? process;
    private SharedOutput output = new();

    /// <summary>host:port, as the sample clients take it.</summary>
    public string Address { get; private set; } = "";

    public string Url => $"http://{Address}";

    public string ApiKey { get; } = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();

    /// <summary>Where the referenced server project's build put GrpcBank.Server.dll (set by the .csproj).</summary>
    public static string DllPath =>
        typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ServerDll").Value!;

    /// <summary>What the server printed so far, for failure messages.</summary>
    public string Log => output.ToString();

    public async ValueTask InitializeAsync()
    {
        Assert.True(File.Exists(DllPath), $"The server is not built: {DllPath} is missing");
        // Its own folder as the working directory: that is its content root, where appsettings.json (HTTP/2 only) lives.
        process = ChildProcess.Start("dotnet",
            [DllPath, "--urls", "http://127.0.0.1:0", $"--Storage:DataDirectory={dataDirectory}",
             $"--Auth:ApiKeys:0:Key={ApiKey}", "--Auth:ApiKeys:0:Roles=teller,auditor,admin", "--Auth:ApiKeys:0:Name=clients-tests"],
            Path.GetDirectoryName(DllPath)!);
        output = ChildProcess.Capture(process);

        var started = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The server exited with {process.ExitCode} while starting:\n{Log}");
            if (started.Elapsed > StartTimeout)
            {
                ChildProcess.KillTree(process);
                throw new TimeoutException($"The server was not SERVING within {StartTimeout.TotalSeconds:0} s; killed it. Its output:\n{Log}");
            }
            if (Address.Length == 0 && ListeningOn().Match(Log) is { Success: true } listening)
                Address = listening.Groups[1].Value;
            if (Address.Length > 0 && await IsServingAsync()) return;
            await Task.Delay(100);
        }
    }

    private async Task<bool> IsServingAsync()
    {
        using var channel = GrpcChannel.ForAddress(Url);
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

    public ValueTask DisposeAsync()
    {
        if (process is not null)
        {
            ChildProcess.KillTree(process);
            process.Dispose();
        }
        try
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: it is under the temp folder.
        }
        return ValueTask.CompletedTask;
    }

    [GeneratedRegex(@"Now listening on: http://(127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}
