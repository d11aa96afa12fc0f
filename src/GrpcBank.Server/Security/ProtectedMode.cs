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
/// <remarks>
/// With keys, a cleartext address beyond loopback is served (TLS may end in front of it: a proxy, a mesh), with a
/// warning at start-up: the keys travel readable on it unless something in front encrypts them.
/// </remarks>
public sealed class ProtectedMode(ApiKeys keys, IServer server, ILogger<ProtectedMode> logger) : IHostedLifecycleService
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
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var exposed = bound.Where(url => !IsLoopback(url)).ToList();
        if (verified)
        {
            if (exposed.Where(url => BindingAddress.Parse(url).Scheme == "http").ToList() is { Count: > 0 } cleartext)
                logger.LogWarning("Serving cleartext HTTP beyond loopback on {Addresses}: API keys sent there travel readable; terminate TLS in front (a proxy, a mesh) or give Kestrel a certificate (README, Security)",
                    string.Join(", ", cleartext));
            return Task.CompletedTask;
        }
        if (exposed.Count > 0)
            throw new StartupRefusedException(
                $"Refusing to serve on {string.Join(", ", exposed)} without API keys: anyone could move money. " +
                "Configure keys (Auth__ApiKeys__0__Key=<secret>, Auth__ApiKeys__0__Roles=teller,auditor,admin) " +
                "or listen on loopback only (--urls http://127.0.0.1:5000).");
        verified = true;
        return Task.CompletedTask;
    }

    private static bool IsLoopback(string url) => IsLoopbackHost(BindingAddress.Parse(url).Host);

    /// <summary>A host name or address (IPv6 in brackets or not) that can only mean this machine: <c>localhost</c> or a loopback address.</summary>
    public static bool IsLoopbackHost(string host)
    {
        host = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>
    /// Listening on loopback keeps other machines out, but not a web page open in a browser on this one: it can point a
    /// name of its own at 127.0.0.1 (DNS rebinding) and call the plain-HTTP JSON API as its own origin, reading the
    /// answers too. Its requests carry that name as Host, so a server without keys answers HTTP requests only when
    /// they are addressed to a loopback name: PERMISSION_DENIED otherwise, and nothing runs. (gRPC is out of a
    /// browser's reach: cleartext HTTP/2 with prior knowledge.) Null when the request may go on.
    /// </summary>
    public Google.Rpc.Status? RefusalOf(HttpContext context) =>
        keys.IsOpen && !IsLoopbackHost(context.Request.Host.Host)
            ? new Google.Rpc.Status
            {
                Code = (int)Google.Rpc.Code.PermissionDenied,
                Message = $"this server has no API keys, so it answers only requests addressed to localhost or a loopback address, " +
                    $"not to '{context.Request.Host.Host}'; configure keys (Auth__ApiKeys__0__Key) to serve it under other names",
            }
            : null;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
