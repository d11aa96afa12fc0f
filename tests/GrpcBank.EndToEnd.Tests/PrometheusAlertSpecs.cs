using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using GrpcBank.Contracts.Accounts.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// The alert rules of deploy/ in a real Prometheus scraping a real server: when a consumer cannot progress, its lag and
/// heartbeat alerts fire, for that consumer only. The rules are deploy/'s own, with every <c>for:</c> cut to seconds and
/// the lag threshold cut to what a short workload reaches; nothing else is rewritten.
/// </summary>
public sealed partial class PrometheusAlertSpecs
{
    private static readonly string? PrometheusBinary = ChildProcess.FindOnPath("prometheus");

    private const string LagRule = "max by (sink) (grpcbank_relay_lag) > 1000";
    private const int TestLagThreshold = 20;

    [Fact]
    public async Task AConsumerThatCannotProgress_FiresTheLagAndHeartbeatAlerts_InARealPrometheus()
    {
        Assert.SkipWhen(PrometheusBinary is null,
            "prometheus is not installed (Debian's prometheus package; .ci/run installs it): cannot run the alert rules against a live server");
        var ct = TestContext.Current.CancellationToken;
        var dir = Directory.CreateTempSubdirectory("grpcbank-prometheus-").FullName;
        try
        {
            // The read side writes to an Elasticsearch that is not there: its consumer fails and backs off, its watermark
            // stays at 0, while the payment process keeps passing (and keeps the head position the lag is measured from fresh).
            var metricsPort = FreePorts.Next();
            await using var server = await ServerProcess.StartAsync(
                ("Storage:DataDirectory", Path.Combine(dir, "bank")), ("Metrics:Url", $"http://127.0.0.1:{metricsPort}"),
                ("Elasticsearch:Url", $"http://127.0.0.1:{FreePorts.Next()}"));

            var prometheusPort = FreePorts.Next();
            File.WriteAllText(Path.Combine(dir, "alerts.yml"), ShortenedRules());
            File.WriteAllText(Path.Combine(dir, "prometheus.yml"), $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - alerts.yml
                scrape_configs:
                  - job_name: grpcbank
                    static_configs:
                      - targets: ["127.0.0.1:{metricsPort}"]
                """);
            using var prometheus = ChildProcess.Start(PrometheusBinary!,
                [$"--config.file={Path.Combine(dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(dir, "tsdb")}",
                 $"--web.listen-address=127.0.0.1:{prometheusPort}"], dir);
            var prometheusLog = ChildProcess.Capture(prometheus);
            try
            {
                var accounts = new AccountService.AccountServiceClient(server.Channel);
                var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" }, cancellationToken: ct);
                for (var i = 0; i < TestLagThreshold + 10; i++)
                    await accounts.DepositMoneyAsync(
                        new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 100, CurrencyCode = "EUR" }, cancellationToken: ct);

                using var http = new HttpClient();
                var waited = Stopwatch.StartNew();
                List<Alert> firing = [];
                while (!(Fires(firing, "GrpcBankConsumerLagHigh") && Fires(firing, "GrpcBankConsumerNotHeartbeating")))
                {
                    Assert.True(waited.Elapsed < TimeSpan.FromSeconds(45),
                        $"the alerts did not fire within 45 s; firing: [{string.Join(", ", firing)}]\nPrometheus:\n{prometheusLog}\nServer:\n{server.Log}");
                    Assert.False(prometheus.HasExited, $"prometheus exited:\n{prometheusLog}");
                    await Task.Delay(500, ct);
                    firing = await FiringAlertsAsync(http, prometheusPort, ct);
                }

                // Only the consumer that is stuck: the payment process is caught up and passing.
                Assert.All(firing.Where(a => a.Name is "GrpcBankConsumerLagHigh" or "GrpcBankConsumerNotHeartbeating"),
                    a => Assert.Equal("read-side", a.Sink));
                Assert.DoesNotContain(firing, a => a.Name == "GrpcBankRelayNotReporting");
            }
            finally
            {
                ChildProcess.KillTree(prometheus);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool Fires(List<Alert> firing, string name) => firing.Any(a => a.Name == name && a.Sink == "read-side");

    private sealed record Alert(string Name, string? Sink);

    private static async Task<List<Alert>> FiringAlertsAsync(HttpClient http, int port, CancellationToken ct)
    {
        try
        {
            using var answer = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/api/v1/alerts", ct));
            return [.. answer.RootElement.GetProperty("data").GetProperty("alerts").EnumerateArray()
                .Where(a => a.GetProperty("state").GetString() == "firing")
                .Select(a => a.GetProperty("labels"))
                .Select(l => new Alert(l.GetProperty("alertname").GetString()!, l.TryGetProperty("sink", out var s) ? s.GetString() : null))];
        }
        catch (HttpRequestException)
        {
            return []; // Prometheus is still starting
        }
    }

    /// <summary>deploy/prometheus/alerts.yml with every <c>for:</c> at 2 s and the lag threshold at <see cref="TestLagThreshold"/>.</summary>
    private static string ShortenedRules()
    {
        var rules = File.ReadAllText(Path.Combine(DeploymentSpecs.Root, "deploy", "prometheus", "alerts.yml"));
        Assert.Contains(LagRule, rules); // a changed rule must be changed here too, not silently left untested
        return ForDuration().Replace(rules.Replace(LagRule, LagRule.Replace("1000", TestLagThreshold.ToString())), "for: 2s");
    }

    [GeneratedRegex(@"for: \w+")]
    private static partial Regex ForDuration();
}
