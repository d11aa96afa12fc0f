using System.Net;
using GrpcBank.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace GrpcBank.Server.Security;

/// <summary>
/// Without API keys the server is open, so it may only serve on loopback addresses. The rule is checked against the
/// addresses Kestrel actually bound, right after binding, whatever chose them (<c>--urls</c>, <c>ASPNETCORE_URLS</c>,
/// <c>ASPNETCORE_HTTP_PORTS</c>, <c>--http_ports</c>, <c>Kestrel:Endpoints</c>). Until the check has passed every
/// connection is dropped unanswered, so a server that refuses to start has served nothing.
/// </summary>
public sealed class ProtectedMode(ApiKeys keys, IServer server) : IHostedLifecycleService
{
    private volatile bool verified = !keys.IsOpen;

    /// <summary>Drops every request until the bound addresses were checked.</summary>
    public async Task Gate(HttpContext context, RequestDelegate next)
    {
        if (!verified)
        {
            context.Abort();
            return;
        }
        await next(context);
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (verified) return Task.CompletedTask;
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var exposed = bound.Where(url => !IsLoopback(url)).ToList();
        if (exposed.Count > 0)
            throw new StartupRefusedException(
                $"Refusing to serve on {string.Join(", ", exposed)} without API keys: anyone could move money. " +
                "Configure keys (Auth__ApiKeys__0__Key=<secret>, Auth__ApiKeys__0__Roles=teller,auditor,admin) " +
                "or listen on loopback only (--urls http://127.0.0.1:5000).");
        verified = true;
        return Task.CompletedTask;
    }

    private static bool IsLoopback(string url)
    {
        var host = BindingAddress.Parse(url).Host;
        host = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return host == "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
