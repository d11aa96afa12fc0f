using Grpc.Net.Client;
using GrpcBank.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// The real server in this process (Kestrel on a loopback port, HTTP/2), for specs that reach into its services;
/// restartable on the same storage with changed settings.
/// </summary>
public sealed class BankHost : IAsyncDisposable
{
    private readonly Dictionary<string, string> settings;
    private WebApplication? app;
    private GrpcChannel? channel;

    private BankHost(Dictionary<string, string> settings) => this.settings = settings;

    public static async Task<BankHost> StartAsync(params (string Key, string Value)[] settings)
    {
        var host = new BankHost(settings.ToDictionary(s => s.Key, s => s.Value));
        await host.StartAsync();
        return host;
    }

    public GrpcChannel Channel => channel ?? throw new InvalidOperationException("not started");

    public T Get<T>() where T : notnull => (app ?? throw new InvalidOperationException("not started")).Services.GetRequiredService<T>();

    /// <summary>Stops the server gracefully and starts it again on the same storage, with <paramref name="changes"/> applied (an empty value removes a setting).</summary>
    public async Task RestartAsync(params (string Key, string Value)[] changes)
    {
        await StopAsync();
        foreach (var (key, value) in changes)
            if (value.Length == 0) settings.Remove(key);
            else settings[key] = value;
        await StartAsync();
    }

    private async Task StartAsync()
    {
        var args = settings.Select(kv => $"--{kv.Key}={kv.Value}").Append("--urls=http://127.0.0.1:0").ToArray();
        app = BankServer.Build(args);
        await app.StartAsync(TestContext.Current.CancellationToken);
        channel = GrpcChannel.ForAddress(app.Urls.Single());
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
