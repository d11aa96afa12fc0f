using Grpc.Net.Client;
using GrpcBank.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace GrpcBank.Ctl.Tests;

/// <summary>The real server (Kestrel on a loopback port, HTTP/2, embedded storage in a fresh directory) in this process.</summary>
public sealed class BankHost : IAsyncDisposable
{
    private readonly WebApplication app;

    private BankHost(WebApplication app)
    {
        this.app = app;
        Url = app.Urls.Single();
        Channel = GrpcChannel.ForAddress(Url);
    }

    public string Url { get; }

    public GrpcChannel Channel { get; }

    /// <summary>The server's services, for specs that reach behind the API (e.g. to tamper with the read side).</summary>
    public IServiceProvider Services => app.Services;

    public static async Task<BankHost> StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "grpcbank-tests", Guid.NewGuid().ToString("N"));
        var app = BankServer.Build([$"--Storage:DataDirectory={dir}", "--urls=http://127.0.0.1:0"]);
        await app.StartAsync();
        return new BankHost(app);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>One server seeded once (bankctl seed --seed 7) for the specs that only read.</summary>
public sealed class SeededBank : IAsyncLifetime
{
    public const int Seed = 7;

    public BankHost Host { get; private set; } = null!;

    public string SeedOutput { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        Host = await BankHost.StartAsync();
        var seeded = await Ctl.RunAsync(Host, "seed", "--accounts", "10", "--orders", "12", "--seed", Seed.ToString());
        Assert.True(seeded.ExitCode == 0, seeded.Stderr);
        SeedOutput = seeded.Stdout;
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}
