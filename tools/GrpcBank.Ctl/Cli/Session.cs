using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Cli;

/// <summary>One command's connection to the server and its output writers.</summary>
public sealed class Session : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly TimeSpan? timeout;
    private readonly string? apiKey;

    private Session(ParseResult parsed, Uri server)
    {
        Server = server;
        Out = parsed.InvocationConfiguration.Output;
        Error = parsed.InvocationConfiguration.Error;
        Screen = Screen.For(Out);
        Json = parsed.GetValue(GlobalOptions.Json);
        Verbose = parsed.GetValue(GlobalOptions.Verbose);
        apiKey = parsed.GetValue(GlobalOptions.ApiKey);
        timeout = parsed.GetValue(GlobalOptions.Timeout);
        Channel = GrpcChannel.ForAddress(server, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), EnableMultipleHttp2Connections = true },
        });
    }

    public Uri Server { get; }
    public TextWriter Out { get; }
    public TextWriter Error { get; }
    /// <summary>Human output: drawn on a terminal, plain when redirected.</summary>
    public Screen Screen { get; }
    public bool Json { get; }
    public bool Verbose { get; }
    public GrpcChannel Channel { get; }

    /// <summary>Options for a unary call: the credentials and a deadline (--timeout, or 30 s).</summary>
    public CallOptions Call(CancellationToken ct) => new(Headers(), DateTime.UtcNow + (timeout ?? DefaultTimeout), ct);

    /// <summary>Options for a long-running stream: a deadline only when --timeout was given.</summary>
    public CallOptions Streaming(CancellationToken ct) => new(Headers(), timeout is { } t ? DateTime.UtcNow + t : null, ct);

    private Metadata? Headers() => apiKey is null ? null : new Metadata { { "authorization", $"Bearer {apiKey}" } };

    /// <summary>Runs a command's body with a session, turning failures into messages a person can act on and an exit code.</summary>
    public static async Task<int> RunAsync(ParseResult parsed, CancellationToken ct, Func<Session, Task<int>> body)
    {
        var error = parsed.InvocationConfiguration.Error;
        var address = parsed.GetValue(GlobalOptions.Server)!;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https"))
        {
            await error.WriteLineAsync($"bankctl: --server '{address}' is not an http:// or https:// address, e.g. {GlobalOptions.DefaultServer}");
            return ExitCode.Usage;
        }
        // Checked here, not by the HTTP client, which refused the header before sending it and was reported as a server
        // that cannot be reached (exit 3, "Start one with …"). The key itself is not printed.
        if (parsed.GetValue(GlobalOptions.ApiKey) is { } key && !key.All(c => c is >= ' ' and <= '~'))
        {
            await error.WriteLineAsync("bankctl: --api-key (or GRPCBANK_API_KEY) holds a character an HTTP header cannot carry: a key is printable ASCII");
            return ExitCode.Usage;
        }
        using var session = new Session(parsed, server);
        try
        {
            return await body(session);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested)
        {
            await error.WriteLineAsync("bankctl: cancelled");
            return ExitCode.Cancelled;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await error.WriteLineAsync("bankctl: cancelled");
            return ExitCode.Cancelled;
        }
        catch (RpcException e)
        {
            var failure = Failure.Describe(e, session.Server);
            await error.WriteLineAsync(failure.Message);
            if (session.Verbose) await error.WriteLineAsync(e.ToString());
            return failure.ExitCode;
        }
        catch (UsageException e)
        {
            await error.WriteLineAsync($"bankctl: {e.Message}");
            return ExitCode.Usage;
        }
    }

    public void Dispose() => Channel.Dispose();
}

/// <summary>A command line that parsed but makes no sense, found while running (exit 2).</summary>
public sealed class UsageException(string message) : Exception(message);
