using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Server.Security;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Once the server listens, calls each command method twice over its own cleartext address with requests it refuses
/// before writing, waits for the runtime's background compilations those calls started, and only then reports the
/// server healthy (grpc.health.v1): so a restarted server's first command does not pay for the process's first use of
/// Kestrel's HTTP/2 streams, the routes, the gRPC methods, the interceptors, the protobuf messages and the error mapping
/// (<see cref="CommandPathWarmUp"/> warms what lies behind them, and the accepted path's replies, before the server
/// listens). Measured before it existed: a restarted server's first deposit took 140–190 ms with the command path warm,
/// against 5–20 ms for the next one. With one refused deposit only, a route jump table and a service resolver were still
/// being compiled in the background (ASP.NET Core compiles them after a first, and repeated, calls) while the first
/// deposits ran (seen in the JIT's method log). It writes nothing (every call is refused, and a refusal is not logged).
/// A server with API keys makes only the first call (each call without a key counts as a failed authentication from
/// loopback). A server with no cleartext address, or whose calls fail, is reported healthy all the same. Its calls are
/// not measured (<see cref="Unmeasured"/>).
/// </summary>
public sealed class EdgeWarmUp(IServer server, IHostApplicationLifetime lifetime, ApiKeys keys, ILogger<EdgeWarmUp> logger)
    : IHostedService
{
    /// <summary>The longest the server is reported unhealthy for the warm-up's sake.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the warm-up call was answered, failed, or was not made: from then on health may be SERVING.</summary>
    public Task Finished => done.Task;

    /// <summary>Marks the warm-up's own calls, with a value only this process knows, so that no client can pass for one.</summary>
    private const string Header = "grpcbank-warm-up";

    private static readonly string Token = Guid.NewGuid().ToString("N");

    /// <summary>
    /// Middleware: the warm-up's own calls go unmeasured (the bank's command metrics and ASP.NET Core's request
    /// metrics) and untraced (the request's span is not recorded, so no exporter sends it, and the bank's own spans are
    /// not started), so a restart does not show refused deposits that no client sent.
    /// </summary>
    public static async Task Unmeasured(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Headers[Header] != Token)
        {
            await next(context);
            return;
        }
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMetricsTagsFeature>() is { } metrics) metrics.MetricsDisabled = true;
        if (System.Diagnostics.Activity.Current is { } span)
        {
            span.IsAllDataRequested = false;
            span.ActivityTraceFlags &= ~System.Diagnostics.ActivityTraceFlags.Recorded;
        }
        using (Application.Telemetry.Unrecorded()) await next(context);
    }

    public Task StartAsync(CancellationToken ct)
    {
        lifetime.ApplicationStarted.Register(() => _ = Task.Run(WarmUpAsync));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        done.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Health is NOT_SERVING until the warm-up has finished. Not as a health check of its own: the framework logs every
    /// unhealthy check as an error (with its description), so each probe during every start (a deployment's, the
    /// framework's own publisher after 5 s) logged "fail: ... Health check edge-warm-up with status Unhealthy" on a
    /// server that was starting normally. Until then the report is made here, without running the checks; after, the
    /// registered checks decide (and an unhealthy event store is an error worth its log line).
    /// </summary>
    public static void GatesHealth(IServiceCollection services)
    {
        var checks = services.Last(d => d.ServiceType == typeof(HealthCheckService));
        services.Remove(checks);
        services.AddSingleton<HealthCheckService>(sp => new UntilWarm(
            (HealthCheckService)ActivatorUtilities.CreateInstance(sp, checks.ImplementationType!), sp.GetRequiredService<EdgeWarmUp>()));
    }

    private sealed class UntilWarm(HealthCheckService checks, EdgeWarmUp warmUp) : HealthCheckService
    {
        private static readonly HealthReport WarmingUp = new(new Dictionary<string, HealthReportEntry>
        {
            ["edge-warm-up"] = new(HealthStatus.Unhealthy, "warming up the command path", TimeSpan.Zero, null, null),
        }, TimeSpan.Zero);

        public override Task<HealthReport> CheckHealthAsync(Func<HealthCheckRegistration, bool>? predicate, CancellationToken ct = default) =>
            warmUp.Finished.IsCompleted ? checks.CheckHealthAsync(predicate, ct) : Task.FromResult(WarmingUp);
    }

    private async Task WarmUpAsync()
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (OwnAddress() is not { } address) return;
            using var channel = GrpcChannel.ForAddress(address);
            // Each command method twice: ASP.NET Core compiles a route's jump table after its first call, and the service
            // provider its resolvers after repeated ones, both in the background; let that happen now, not during the first commands.
            // With API keys configured the calls (which carry none) stop at authentication, each a failed one charged to the
            // loopback address's budget (RateLimits): one is enough there.
            var calls = keys.IsOpen ? [.. RefusedCalls(channel), .. RefusedCalls(channel)] : RefusedCalls(channel).Take(1).ToList();
            foreach (var call in calls)
                try
                {
                    await call(new CallOptions(new Metadata { { Header, Token } }, deadline: DateTime.UtcNow.Add(Patience)));
                }
                catch (RpcException e) when (e.StatusCode is not (StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal))
                {
                    // The expected answer: no such account, or an invalid request (or, with keys configured, no key).
                }
            var (compiled, quietAfter) = await BackgroundCompilation.QuietAsync();
            logger.LogInformation("gRPC edge warmed up in {Elapsed} ms ({Compiled} methods compiled after its calls, quiet after {Quiet} ms)",
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, compiled, quietAfter.TotalMilliseconds);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "gRPC edge warm-up failed; the first command will pay for it");
        }
        finally
        {
            done.TrySetResult();
        }
    }

    /// <summary>
    /// Calls each command method the way a client would, with requests the server refuses before anything is written:
    /// a deposit, a withdrawal and a transfer on accounts that do not exist, an account opened without an owner name.
    /// </summary>
    private static IEnumerable<Func<CallOptions, Task>> RefusedCalls(GrpcChannel channel)
    {
        var accounts = new AccountService.AccountServiceClient(channel);
        var payments = new PaymentService.PaymentServiceClient(channel);
        var nobody = $"warm-up-{Guid.NewGuid():N}";
        var somebodyElse = $"warm-up-{Guid.NewGuid():N}";
        yield return async o => await accounts.DepositMoneyAsync(
            new DepositMoneyRequest { AccountId = nobody, AmountMinor = 1, CurrencyCode = "EUR", Reference = "warm-up", RequestId = nobody }, o);
        yield return async o => await accounts.WithdrawMoneyAsync(
            new WithdrawMoneyRequest { AccountId = nobody, AmountMinor = 1, CurrencyCode = "EUR", Reference = "warm-up" }, o);
        yield return async o => await payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = nobody, FromAccountId = nobody, ToAccountId = somebodyElse, AmountMinor = 1, CurrencyCode = "EUR", Reference = "warm-up",
        }, o);
        yield return async o => await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = nobody, OwnerName = "", CurrencyCode = "EUR" }, o);
    }

    /// <summary>A cleartext address this server listens on, as a loopback URL; null when there is none.</summary>
    private Uri? OwnAddress()
    {
        foreach (var listened in server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
        {
            if (!Uri.TryCreate(listened.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal),
                    UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.IsDefaultPort) continue;
            var host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : uri.Host;
            return new UriBuilder(uri) { Host = host }.Uri;
        }
        return null;
    }
}
