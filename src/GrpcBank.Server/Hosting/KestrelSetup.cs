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
        var limits = builder.Configuration.GetSection("Kestrel:Limits");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2);
            kestrel.Limits.MaxConcurrentConnections = limits.GetValue<long?>("MaxConcurrentConnections", 1_000);
            // A connection with no call in flight (or that never sends one) is closed after this long.
            kestrel.Limits.KeepAliveTimeout = limits.GetValue("KeepAliveTimeout", TimeSpan.FromSeconds(60));
            kestrel.Limits.RequestHeadersTimeout = limits.GetValue("RequestHeadersTimeout", TimeSpan.FromSeconds(10));
            var http2 = limits.GetSection("Http2");
            kestrel.Limits.Http2.MaxStreamsPerConnection = http2.GetValue("MaxStreamsPerConnection", 100);
            // Pings find peers that vanished without closing (long subscriptions would otherwise hold their slots).
            kestrel.Limits.Http2.KeepAlivePingDelay = http2.GetValue("KeepAlivePingDelay", TimeSpan.FromSeconds(30));
            kestrel.Limits.Http2.KeepAlivePingTimeout = http2.GetValue("KeepAlivePingTimeout", TimeSpan.FromSeconds(20));
        });
    }

    /// <summary>
    /// Adds a named plain HTTP/1.1 endpoint beside the gRPC ones (for clients that cannot speak cleartext HTTP/2). The gRPC
    /// listen addresses are kept: Kestrel ignores <c>--urls</c> once endpoints are configured, so they become endpoints too.
    /// </summary>
    public static void AddHttp1Endpoint(this WebApplicationBuilder builder, string name, string url, IReadOnlyList<string> grpcUrls)
    {
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
