using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace GrpcBank.Testing;

/// <summary>
/// The real server (Kestrel on a loopback port, HTTP/2) in this process, with real gRPC clients.
/// Restartable on the same storage, to prove durability.
/// </summary>
public sealed class BankHost : IAsyncDisposable
{
    private readonly Dictionary<string, string> settings;
    private readonly Action<WebApplicationBuilder>? configure;
    private WebApplication? app;
    private GrpcChannel? channel;

    private BankHost(Dictionary<string, string> settings, Action<WebApplicationBuilder>? configure = null)
    {
        this.settings = settings;
        this.configure = configure;
    }

    /// <summary>An embedded-mode server with its own fresh data directory.</summary>
    public static Task<BankHost> StartEmbeddedAsync(params (string Key, string Value)[] extra) => StartEmbeddedAsync(null, extra);

    /// <summary>An embedded-mode server whose builder <paramref name="configure"/> may add to (a test's clock, say).</summary>
    public static Task<BankHost> StartEmbeddedAsync(Action<WebApplicationBuilder>? configure, params (string Key, string Value)[] extra)
    {
        var dir = Path.Combine(Path.GetTempPath(), "grpcbank-tests", Guid.NewGuid().ToString("N"));
        return StartAsync(new Dictionary<string, string> { ["Storage:DataDirectory"] = dir }, configure, extra);
    }

    /// <summary>
    /// A production-mode server on a fresh PostgreSQL database: event store and read store (<c>ReadStore:Kind=Postgres</c>,
    /// the several-servers setup) both in it; pass <c>("ReadStore:Kind", "Sqlite")</c> for an embedded read store.
    /// </summary>
    public static Task<BankHost> StartPostgresAsync(string connectionString, params (string Key, string Value)[] extra) =>
        StartPostgresAsync(connectionString, null, extra);

    public static Task<BankHost> StartPostgresAsync(
        string connectionString, Action<WebApplicationBuilder>? configure, params (string Key, string Value)[] extra)
    {
        var dir = Path.Combine(Path.GetTempPath(), "grpcbank-tests", Guid.NewGuid().ToString("N"));
        return StartAsync(new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = dir, ["ConnectionStrings:Postgres"] = connectionString, ["ReadStore:Kind"] = "Postgres",
        }, configure, extra);
    }

    /// <summary>A server with exactly these settings.</summary>
    public static Task<BankHost> StartAsync(params (string Key, string Value)[] settings) => StartAsync([], settings);

    public static Task<BankHost> StartAsync(Dictionary<string, string> settings, params (string Key, string Value)[] extra) =>
        StartAsync(settings, null, extra);

    /// <summary>A server with these settings, whose builder <paramref name="configure"/> may add to (a log capture, say).</summary>
    public static async Task<BankHost> StartAsync(
        Dictionary<string, string> settings, Action<WebApplicationBuilder>? configure, params (string Key, string Value)[] extra)
    {
        foreach (var (key, value) in extra) settings[key] = value;
        var host = new BankHost(settings, configure);
        await host.StartAsync();
        return host;
    }

    public AccountService.AccountServiceClient Accounts => new(Channel);

    public QueryService.QueryServiceClient Query => new(Channel);

    public GrpcChannel Channel => channel ?? throw new InvalidOperationException("not started");

    public IServiceProvider Services => app?.Services ?? throw new InvalidOperationException("not started");

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Stops the server and starts it again on the same storage, optionally with changed settings.</summary>
    public Task RestartAsync(params (string Key, string Value)[] changes) => RestartAsync(() => { }, changes);

    /// <summary>Stops the server, does <paramref name="whileStopped"/>, and starts it again on the same storage (an empty value removes a setting).</summary>
    public async Task RestartAsync(Action whileStopped, params (string Key, string Value)[] changes)
    {
        await StopAsync();
        whileStopped();
        foreach (var (key, value) in changes)
            if (value.Length == 0) settings.Remove(key);
            else settings[key] = value;
        await StartAsync();
    }

    /// <summary>The gRPC address (not the extra plain-HTTP endpoints that Metrics:Url and JsonApi:Url add).</summary>
    public string GrpcUrl => app is null ? throw new InvalidOperationException("not started")
        : app.Urls.Single(url => !new[] { "Metrics:Url", "JsonApi:Url" }.Any(
            key => settings.TryGetValue(key, out var other) && new Uri(url).Port == new Uri(other).Port));

    /// <summary>The embedded data directory, when the server runs in embedded mode.</summary>
    public string DataDirectory => settings["Storage:DataDirectory"];

    private async Task StartAsync()
    {
        var args = settings.Select(kv => $"--{kv.Key}={kv.Value}").Append("--urls=http://127.0.0.1:0").ToArray();
        var output = TestContext.Current.TestOutputHelper;
        app = BankServer.Build(args, builder =>
        {
            if (output is not null) builder.Logging.AddProvider(new ServerLogInTestOutput(output));
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        channel = GrpcChannel.ForAddress(GrpcUrl);
        // As a deployment waits for SERVING: health reports NOT_SERVING until the server's call to itself is answered.
        await app.Services.GetRequiredService<EdgeWarmUp>().Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task StopAsync()
    {
        channel?.Dispose();
        channel = null;
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            app = null;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
