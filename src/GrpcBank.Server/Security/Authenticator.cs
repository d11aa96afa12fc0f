using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Server.Errors;

namespace GrpcBank.Server.Security;

/// <summary>
/// Who may call which service: bearer API keys and roles per service. Missing or unknown key: UNAUTHENTICATED;
/// a role that may not call the service: PERMISSION_DENIED; too many failed attempts from the peer's address:
/// RESOURCE_EXHAUSTED, whatever key it sends, until the address has waited.
/// </summary>
public sealed class Authenticator(ApiKeys keys, RateLimits limits)
{
    private static readonly Dictionary<string, Role> RoleByService = new()
    {
        ["bank.accounts.v1.AccountService"] = Role.Teller,
        ["bank.orders.v1.OrderService"] = Role.Teller,
        ["bank.payments.v1.PaymentService"] = Role.Teller,
        ["bank.batch.v1.BatchService"] = Role.Teller,
        ["bank.query.v1.QueryService"] = Role.Auditor,
        ["bank.history.v1.HistoryService"] = Role.Auditor,
        ["bank.admin.v1.ProjectionService"] = Role.Admin,
    };

    // RPCs that need another role than their service's: limits and lifting restrictions are an admin's decision.
    private static readonly Dictionary<(string Service, string Method), Role> RoleByMethod = new()
    {
        [("bank.accounts.v1.AccountService", "SetOverdraftLimit")] = Role.Admin,
        [("bank.accounts.v1.AccountService", "LiftRestriction")] = Role.Admin,
    };

    /// <summary>
    /// The key's name for a call to <paramref name="service"/> (also set as the request's user), or null for a service
    /// that needs no key (health, reflection) or a server without keys. Throws the call's RpcException when refused.
    /// A call is looked at once: the edge authenticates it before its body is read (<see cref="AuthenticationRefusalOf"/>),
    /// and the services' admission then takes that outcome instead of hashing the key again.
    /// </summary>
    public string? Authenticate(HttpContext http, string service, string? method = null)
    {
        if (!RoleByService.TryGetValue(service, out var role) || keys.IsOpen) return null;
        if (http.Features.Get<AuthenticatedCall>() is { } known && known.Service == service && known.Method == method) return known.Caller;
        if (method is not null && RoleByMethod.TryGetValue((service, method), out var methodRole)) role = methodRole;
        var peer = Peer(http);
        if (!limits.MayAuthenticate(peer))
            throw Exhausted(http, "TOO_MANY_FAILED_AUTHENTICATIONS", $"too many failed authentications from {peer}; wait a few seconds before trying again",
                limits.FailureReplenished, ("peer", peer));
        var header = http.Request.Headers.Authorization.ToString();
        var key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? keys.Find(header["Bearer ".Length..].Trim()) : null;
        if (key is null)
        {
            limits.AuthenticationFailed(peer);
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, "send a valid API key as 'authorization: Bearer <key>'"));
        }
        if (!key.Roles.Contains(role))
        {
            // A refused call is a call all the same: it takes its place in the key's rate, or a key could send them unlimited.
            (limits.TryAdmit(key.Name, out var wait) ?? throw OverRate(http, key.Name, wait)).Dispose();
            throw new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied,
                $"{service}{(method is null ? "" : "/" + method)} needs the {role.ToString().ToLowerInvariant()} role; key '{key.Name}' has {string.Join(", ", key.Roles).ToLowerInvariant()}"));
        }
        http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, key.Name)], "ApiKey"));
        http.Features.Set(new AuthenticatedCall(service, method, key.Name));
        return key.Name;
    }

    /// <summary>A call whose key was found and may call <see cref="Method"/> of <see cref="Service"/>.</summary>
    private sealed record AuthenticatedCall(string Service, string? Method, string Caller);

    private const string HealthService = "grpc.health.v1.Health";

    /// <summary>A gRPC call's path (<c>/package.Service/Method</c>) as the service and method it names.</summary>
    public static (string Service, string? Method) Route(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return (parts[0], parts.Length > 1 ? parts[1] : null);
    }

    /// <summary>
    /// Admits one call: authenticated (<see cref="Authenticate"/>) and held to its caller's rate, per key or per peer
    /// address for calls without one; over the rate: RESOURCE_EXHAUSTED. Health checks are never limited: one client
    /// probing in a loop must not starve everyone else's probes. Null for those; else the lease, held for the call.
    /// </summary>
    public RateLimitLease? Admit(HttpContext http, string service, string? method)
    {
        if (service == HealthService) return null;
        var caller = Authenticate(http, service, method) ?? $"peer {Peer(http)}";
        return limits.TryAdmit(caller, out var wait) ?? throw OverRate(http, caller, wait);
    }

    private static RpcException OverRate(HttpContext http, string caller, TimeSpan wait) =>
        Exhausted(http, "RATE_LIMITED", $"too many requests for '{caller}'; slow down and retry", wait, ("caller", caller));

    /// <summary>
    /// RESOURCE_EXHAUSTED with its reason and a RetryInfo saying when to come back, and the same as HTTP's Retry-After
    /// (whole seconds, rounded up) for clients that read only that (a JSON API 429, a proxy).
    /// </summary>
    private static RpcException Exhausted(HttpContext http, string reason, string message, TimeSpan wait, params (string Key, string Value)[] metadata)
    {
        var status = ErrorMapper.Status(Code.ResourceExhausted, reason, message, metadata);
        status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(wait) }));
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return status.ToRpcException();
    }

    /// <summary>
    /// What a caller the services would refuse hears instead of the refusal of its request's form (a broken body tells
    /// nothing before authentication): the status of <see cref="Admit"/>'s refusal, or null when it passes. A request
    /// refused for its form is a call all the same, so it takes its place in its caller's rate as a well-formed one
    /// would; past the rate, its caller hears RESOURCE_EXHAUSTED as for any other call.
    /// </summary>
    public Google.Rpc.Status? RefusalOf(HttpContext http, string service, string? method) =>
        StatusOf(() => Admit(http, service, method)?.Dispose());

    /// <summary>
    /// <see cref="Authenticate"/>'s refusal (no valid key, a wrong role, too many failed attempts), or null: asked before
    /// a request's body is read, so a caller without a valid key cannot have the server read, inflate and parse a body of
    /// up to 8 MiB (16 MiB of JSON) first, nor one whose address is locked out for its guesses.
    /// </summary>
    public Google.Rpc.Status? AuthenticationRefusalOf(HttpContext http, string service, string? method) =>
        StatusOf(() => Authenticate(http, service, method));

    private static Google.Rpc.Status? StatusOf(Action admission)
    {
        try
        {
            admission();
            return null;
        }
        catch (RpcException e)
        {
            return ErrorMapper.StatusOf(e);
        }
    }

    /// <summary>The caller's network address without its port (a client opens many connections from one address).</summary>
    /// <remarks>
    /// An IPv4 client reaching a dual-stack socket shows as <c>::ffff:a.b.c.d</c>: one peer with <c>a.b.c.d</c>, one budget.
    /// An IPv6 client is its /64: a site is given a /64 at least, and one host may take any address in it (privacy
    /// addresses change by themselves), so its addresses share one budget and one throttle on guessing keys.
    /// </remarks>
    public static string Peer(HttpContext http) => http.Connection.RemoteIpAddress switch
    {
        null => "unknown",
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        { AddressFamily: AddressFamily.InterNetworkV6 } ip when !IPAddress.IsLoopback(ip) => $"{Prefix64(ip)}/64",
        var ip => ip.ToString(),
    };

    private static IPAddress Prefix64(IPAddress ip)
    {
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }
}
