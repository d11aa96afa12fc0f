using System.CommandLine;

namespace GrpcBank.Ctl.Cli;

/// <summary>The options every command takes: where the server is, how to authenticate, how to print.</summary>
public static class GlobalOptions
{
    public const string DefaultServer = "http://127.0.0.1:5000";

    public static readonly Option<string> Server = new("--server")
    {
        Description = $"The server's address (env GRPCBANK_SERVER; default {DefaultServer})",
        HelpName = "url",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GRPCBANK_SERVER") is { Length: > 0 } env ? env : DefaultServer,
    };

    public static readonly Option<string?> ApiKey = new("--api-key")
    {
        Description = "API key, sent as 'authorization: Bearer <key>' (env GRPCBANK_API_KEY)",
        HelpName = "key",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("GRPCBANK_API_KEY") is { Length: > 0 } env ? env : null,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Machine output: proto3 JSON (one object per line for streams of events)",
        Recursive = true,
    };

    /// <summary>The longest --timeout: a week, far beyond any call, and far from where a deadline overflows.</summary>
    public const double MaxTimeoutSeconds = 7 * 24 * 3600;

    public static readonly Option<TimeSpan?> Timeout = new("--timeout")
    {
        Description = $"Seconds to wait for each call, 0.001 to {MaxTimeoutSeconds} (default 30; none for subscribe and rebuild unless given)",
        HelpName = "seconds",
        Recursive = true,
        CustomParser = r => Seconds.Parse(r, "--timeout", 0.001, MaxTimeoutSeconds),
    };

    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "On failure, print the full exception too",
        Recursive = true,
    };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Server);
        root.Options.Add(ApiKey);
        root.Options.Add(Json);
        root.Options.Add(Timeout);
        root.Options.Add(Verbose);
    }
}
