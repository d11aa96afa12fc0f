using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// What gRPC needs from Kestrel, set in code so that it holds wherever the server is started from: endpoints speak
/// HTTP/2 (cleartext HTTP/2 needs prior knowledge; a plain-HTTP endpoint offering HTTP/1.1 too would answer gRPC
/// calls in HTTP/1.1), and the connection limits are chosen, not left unbounded. Each limit is read from Kestrel's own
/// setting (<c>Kestrel:Limits:…</c>, README "Run it") with the default below.
/// </summary>
public static class KestrelSetup
{
    public static void ConfigureKestrel(this WebApplicationBuilder builder)
    {
        // Read now, not when Kestrel starts, so that a value that does not convert refuses to start (Setting).
        var limits = builder.Configuration.GetSection("Kestrel:Limits");
        var http2 = limits.GetSection("Http2");
        var maxConnections = Setting.Of<long?>(limits, "MaxConcurrentConnections", 1_000);
        // A connection with no call in flight (or that never sends one) is closed after this long.
        var keepAlive = Setting.Of(limits, "KeepAliveTimeout", TimeSpan.FromSeconds(60));
        var headersTimeout = Setting.Of(limits, "RequestHeadersTimeout", TimeSpan.FromSeconds(10));
        var maxStreams = Setting.Of(http2, "MaxStreamsPerConnection", 100);
        // Pings find peers that vanished without closing (long subscriptions would otherwise hold their slots).
        var pingDelay = Setting.Of(http2, "KeepAlivePingDelay", TimeSpan.FromSeconds(30));
        var pingTimeout = Setting.Of(http2, "KeepAlivePingTimeout", TimeSpan.FromSeconds(20));
        void Apply(KestrelServerLimits to)
        {
            InRange(limits, "MaxConcurrentConnections", () => to.MaxConcurrentConnections = maxConnections);
            InRange(limits, "KeepAliveTimeout", () => to.KeepAliveTimeout = keepAlive);
            InRange(limits, "RequestHeadersTimeout", () => to.RequestHeadersTimeout = headersTimeout);
            InRange(http2, "MaxStreamsPerConnection", () => to.Http2.MaxStreamsPerConnection = maxStreams);
            InRange(http2, "KeepAlivePingDelay", () => to.Http2.KeepAlivePingDelay = pingDelay);
            InRange(http2, "KeepAlivePingTimeout", () => to.Http2.KeepAlivePingTimeout = pingTimeout);
        }
        // Tried now on limits of no use: Kestrel checks each range only as it starts, where a value out of it was an
        // abort with a stack trace.
        Apply(new KestrelServerLimits());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2);
            Apply(kestrel.Limits);
        });
    }

    /// <summary><paramref name="url"/> as Kestrel will parse it to listen on, or null when Kestrel would refuse it or it is not http(s).</summary>
    public static BindingAddress? ListenAddress(string url)
    {
        try
        {
            return BindingAddress.Parse(url) is { Scheme: "http" or "https" } address ? address : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Sets a limit, refusing to start, naming the setting, when Kestrel refuses its value.</summary>
    private static void InRange(IConfigurationSection section, string key, Action set)
    {
        try
        {
            set();
        }
        catch (ArgumentOutOfRangeException e)
        {
            // Kestrel's rule alone: the exception's message goes on with the parameter's name and the value on a new line.
            var rule = e.Message.Split('\n')[0].Replace($" (Parameter '{e.ParamName}')", "");
            throw new StartupRefusedException($"{section.Path}:{key} '{section[key]}' is out of Kestrel's range: {rule}", e);
        }
    }

    /// <summary>
    /// Adds a named plain HTTP/1.1 endpoint beside the gRPC ones (for clients that cannot speak cleartext HTTP/2). The gRPC
    /// listen addresses are kept: Kestrel ignores <c>--urls</c> once endpoints are configured, so they become endpoints too.
    /// Its URL is the setting <c>{name}:Url</c>, which must name a fixed port: requests are told apart from gRPC ones by it.
    /// </summary>
    public static void AddHttp1Endpoint(this WebApplicationBuilder builder, string name, string url, IReadOnlyList<string> grpcUrls)
    {
        // Checked now: Kestrel parses it only as it starts (an abort with a bare FormatException), and a port of 0 (any
        // free one) started a server whose endpoint answered nothing, since its middleware matches the port 0.
        if (ListenAddress(url) is not { Port: > 0 })
            throw new StartupRefusedException($"{name}:Url '{url}' is not an http:// URL with a fixed port (e.g. http://127.0.0.1:9464)");
        var endpoints = new Dictionary<string, string?>
        {
            [$"Kestrel:Endpoints:{name}:Url"] = url,
            [$"Kestrel:Endpoints:{name}:Protocols"] = "Http1",
        };
        if (!builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
            for (var i = 0; i < grpcUrls.Count; i++) endpoints[$"Kestrel:Endpoints:Grpc{i}:Url"] = grpcUrls[i];
        builder.Configuration.AddInMemoryCollection(endpoints);
    }
}
