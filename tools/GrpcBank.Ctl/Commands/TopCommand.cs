using System.CommandLine;
using System.Net;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Top;
using Grpc.Core;
using Spectre.Console;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl top: a live view of the server from its own endpoints, /metrics and ProjectionService.</summary>
public static class TopCommand
{
    public static Command Build()
    {
        var metrics = new Option<string?>("--metrics")
        {
            Description = "The server's /metrics address (its Metrics:Url, e.g. http://127.0.0.1:9464/metrics); default: /metrics on --server (cleartext HTTP/2, served there only without API keys)",
            HelpName = "url",
        };
        var interval = new Option<TimeSpan>("--interval")
        {
            Description = "Seconds between samples, 0.1 to 3600 (default 1)",
            HelpName = "seconds",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(1),
            CustomParser = r => Seconds.Parse(r, "--interval", 0.1, 3600) ?? default,
        };
        var samples = new Option<int>("--samples")
        {
            Description = "Stop after this many samples (default 0: until Ctrl+C)",
            HelpName = "count",
        }.InRange(0);
        var top = new Command("top", """
            A live view of the bank, refreshed every second: commands/s, p50 and p99 of the bank's RPCs, rejections/s
            by reason, and each relay consumer's state, lag, dead letters and heartbeat. It reads the server's own
            endpoints: /metrics (rates and latencies over the last interval) and ProjectionService.GetProjectionStatus.
            On a terminal it redraws in place; redirected, it prints the tables once per sample; with --json, one JSON
            object per sample and line.

            Examples:
              bankctl top --metrics http://127.0.0.1:9464/metrics
              bankctl top --json --samples 5
            """) { metrics, interval, samples };
        top.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, session =>
            RunAsync(session, parsed.GetValue(metrics), parsed.GetValue(interval), parsed.GetValue(samples), ct)));
        return top;
    }

    private static async Task<int> RunAsync(Session session, string? metricsOption, TimeSpan interval, int limit, CancellationToken ct)
    {
        Uri metricsUri;
        if (metricsOption is null) metricsUri = new Uri(session.Server, "/metrics");
        else if (!Uri.TryCreate(metricsOption, UriKind.Absolute, out metricsUri!) || metricsUri.Scheme is not ("http" or "https"))
        {
            await session.Error.WriteLineAsync($"bankctl: --metrics '{metricsOption}' is not an http:// or https:// address, e.g. http://127.0.0.1:9464/metrics");
            return ExitCode.Usage;
        }
        // The gRPC port speaks cleartext HTTP/2 only; a Metrics:Url endpoint speaks HTTP/1.1.
        var version = metricsOption is null ? HttpVersion.Version20 : HttpVersion.Version11;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var projections = new ProjectionService.ProjectionServiceClient(session.Channel);

        async Task<Scrape?> ScrapeAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, metricsUri) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            try
            {
                using var response = await http.SendAsync(request, ct);
                if (response.IsSuccessStatusCode)
                    return Scrape.Of(DateTimeOffset.UtcNow, MetricsText.Parse(await response.Content.ReadAsStringAsync(ct)));
                await session.Error.WriteLineAsync($"bankctl: {metricsUri} answered {(int)response.StatusCode} {response.ReasonPhrase}. " + Hint);
            }
            catch (HttpRequestException e)
            {
                await session.Error.WriteLineAsync($"bankctl: cannot read {metricsUri}: {e.Message}. " + Hint);
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // HttpClient's own timeout: an address that takes the connection (or drops the packets) but never answers.
                await session.Error.WriteLineAsync($"bankctl: {metricsUri} did not answer within {http.Timeout.TotalSeconds:0} s. " + Hint);
            }
            return null;
        }

        try
        {
            if (await ScrapeAsync() is not { } before) return ExitCode.Unreachable;
            async IAsyncEnumerable<TopSample> SamplesAsync()
            {
                // A sample every interval, however long taking one lasts (a delay after each drifted by that much).
                using var ticks = new PeriodicTimer(interval);
                for (var taken = 0; limit == 0 || taken < limit; taken++)
                {
                    await ticks.WaitForNextTickAsync(ct);
                    var status = await projections.GetProjectionStatusAsync(new GetProjectionStatusRequest(), session.Call(ct));
                    if (await ScrapeAsync() is not { } after) yield break;
                    yield return TopSample.Between(before, after, status);
                    before = after;
                }
            }

            var shown = 0;
            if (session.Json)
                await foreach (var sample in SamplesAsync()) { await session.Out.WriteLineAsync(sample.ToJson()); await session.Out.FlushAsync(ct); shown++; }
            else if (session.Screen.IsTerminal)
                await session.Screen.Terminal.Live(TopView.Waiting(session.Server)).StartAsync(async live =>
                {
                    await foreach (var sample in SamplesAsync()) { live.UpdateTarget(TopView.Render(session.Server, sample, terminal: true)); shown++; }
                });
            else
                await foreach (var sample in SamplesAsync()) { session.Screen.Write(TopView.Render(session.Server, sample, terminal: false)); shown++; }
            return limit == 0 || shown == limit ? ExitCode.Ok : ExitCode.Unreachable;
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            return ExitCode.Ok; // Ctrl+C is how top ends
        }
    }

    private const string Hint =
        "Give the server's Metrics:Url with --metrics (without it, /metrics is served on the gRPC port only while the server runs without API keys).";
}
