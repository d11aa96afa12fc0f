using GrpcBank.Application;
using GrpcBank.Server.Security;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// OpenTelemetry for the host (README, "Observability"). Metrics (ASP.NET Core, Kestrel and the GrpcBank meter) are always
/// collected and served for Prometheus at <c>/metrics</c>. Traces (ASP.NET Core, the GrpcBank source, Npgsql) are collected
/// only when there is somewhere to send them: an OTLP endpoint (<c>OpenTelemetry:OtlpEndpoint</c> or
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>), which also receives the metrics.
/// </summary>
public static class Observability
{
    public const string MetricsPath = "/metrics";

    public static void AddObservability(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var otlpEndpoint = configuration["OpenTelemetry:OtlpEndpoint"];
        var otlpFromEnvironment = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var exportTraces = !string.IsNullOrEmpty(otlpEndpoint) || !string.IsNullOrEmpty(otlpFromEnvironment);

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["OTEL_SERVICE_NAME"] ?? "grpcbank"))
            .WithMetrics(metrics => metrics
                .AddMeter(Telemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddPrometheusExporter());
        if (!exportTraces) return;

        otel.WithTracing(tracing =>
        {
            tracing.AddSource(Telemetry.Name).AddAspNetCoreInstrumentation();
            if (BankServer.PostgresConnection(configuration) is not null) tracing.AddNpgsql();
        });
        if (!string.IsNullOrEmpty(otlpEndpoint))
            otel.UseOtlpExporter(OtlpProtocol(configuration), OtlpEndpoint(otlpEndpoint));
        else
            otel.UseOtlpExporter(); // reads OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS
    }

    /// <summary>
    /// <c>OpenTelemetry:OtlpProtocol</c>: <c>grpc</c> (the default) or <c>http/protobuf</c>. Anything else refuses to start:
    /// it fell back to gRPC, and a collector that takes only HTTP then received nothing, with no word of why.
    /// </summary>
    private static OtlpExportProtocol OtlpProtocol(IConfiguration configuration) => configuration["OpenTelemetry:OtlpProtocol"] switch
    {
        null or "" or "grpc" => OtlpExportProtocol.Grpc,
        "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
        var other => throw new StartupRefusedException($"OpenTelemetry:OtlpProtocol must be grpc or http/protobuf, not '{other}'"),
    };

    /// <summary><c>OpenTelemetry:OtlpEndpoint</c> as a URL; one that is not aborted start-up with the bare UriFormatException.</summary>
    private static Uri OtlpEndpoint(string endpoint) =>
        Uri.TryCreate(endpoint, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw new StartupRefusedException(
                $"OpenTelemetry:OtlpEndpoint must be an http:// or https:// URL (http://127.0.0.1:4317), not '{Setting.WithoutCredentials(endpoint)}'");

    /// <summary>
    /// <c>Metrics:Url</c> (e.g. <c>http://127.0.0.1:9464</c>, a fixed port) adds a plain HTTP/1.1 endpoint that serves only
    /// <c>/metrics</c>, for Prometheus, which cannot speak cleartext HTTP/2.
    /// </summary>
    public static void AddMetricsEndpoint(this WebApplicationBuilder builder, IReadOnlyList<string> grpcUrls)
    {
        if (builder.Configuration["Metrics:Url"] is { Length: > 0 } metricsUrl) builder.AddHttp1Endpoint("Metrics", metricsUrl, grpcUrls);
    }

    /// <summary>
    /// Serves <c>/metrics</c> on the <c>Metrics:Url</c> endpoint when there is one. Without it, <c>/metrics</c> is served on
    /// the gRPC endpoint (cleartext HTTP/2: <c>curl --http2-prior-knowledge</c>), but only while the server runs without API
    /// keys, which <see cref="ProtectedMode"/> confines to loopback: the gRPC auth interceptor does not cover plain HTTP.
    /// </summary>
    public static void UseMetricsEndpoint(this WebApplication app, ApiKeys keys)
    {
        if (app.Configuration["Metrics:Url"] is { Length: > 0 } metricsUrl)
        {
            var port = BindingAddress.Parse(metricsUrl).Port;
            app.UseOpenTelemetryPrometheusScrapingEndpoint(context =>
                context.Connection.LocalPort == port && context.Request.Path == MetricsPath);
        }
        else if (keys.IsOpen)
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint(context => context.Request.Path == MetricsPath);
        }
    }
}
