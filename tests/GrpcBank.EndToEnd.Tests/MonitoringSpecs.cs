using System.Text.Json;
using System.Text.RegularExpressions;
using GrpcBank.Application;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// deploy/: the alert rules pass promtool's check and their unit cases, and every metric the dashboard and the rules
/// query is one the server serves, so renaming a metric breaks the build rather than a dashboard in production.
/// </summary>
public sealed partial class MonitoringSpecs
{
    private static readonly string Deploy = Path.Combine(DeploymentSpecs.Root, "deploy");

    private static readonly string? Promtool = ChildProcess.FindOnPath("promtool");

    [Fact]
    public async Task TheAlertRules_PassPromtoolsCheck_AndEveryAlertsUnitCases()
    {
        Assert.SkipWhen(Promtool is null, "promtool is not installed (Debian's prometheus package; .ci/run installs it): cannot check the alert rules");
        var dir = Path.Combine(Deploy, "prometheus");
        var check = await ChildProcess.RunAsync(Promtool!, ["check", "rules", "alerts.yml"], TimeSpan.FromMinutes(1), dir);
        Assert.True(check.ExitCode == 0, check.ToString());
        var test = await ChildProcess.RunAsync(Promtool!, ["test", "rules", "alerts.test.yml"], TimeSpan.FromMinutes(1), dir);
        Assert.True(test.ExitCode == 0, test.ToString());

        // Every alert has at least one unit case.
        var alerts = AlertName().Matches(File.ReadAllText(Path.Combine(dir, "alerts.yml"))).Select(m => m.Groups[1].Value).ToList();
        var cases = File.ReadAllText(Path.Combine(dir, "alerts.test.yml"));
        Assert.NotEmpty(alerts);
        Assert.All(alerts, alert => Assert.Contains($"alertname: {alert}", cases));
    }

    [Fact]
    public async Task EveryMetricTheDashboardAndTheAlertsQuery_IsServedAfterAShortWorkload()
    {
        var port = FreePorts.Next();
        await using var host = await BankHost.StartEmbeddedAsync(("Metrics:Url", $"http://127.0.0.1:{port}"));
        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" });
        var deposited = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 100, CurrencyCode = "EUR" });
        await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await host.Accounts.WithdrawMoneyAsync(
            new WithdrawMoneyRequest { AccountId = opened.AccountId, AmountMinor = 1_000, CurrencyCode = "EUR" }));
        await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId, MinPosition = deposited.Position });

        var queried = QueriedMetrics();
        Assert.Contains("grpcbank_commands_total", queried);
        using var http = new HttpClient();
        HashSet<string> served = [];
        var scrape = "";
        for (var attempt = 0; attempt < 50 && !queried.IsSubsetOf(served.Union(AppearOnFirstEvent.Keys)); attempt++)
        {
            if (attempt > 0) await Task.Delay(100, TestContext.Current.CancellationToken); // the exporter caches a scrape briefly
            scrape = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics", TestContext.Current.CancellationToken);
            served = [.. scrape.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => SeriesName().Match(l).Value)];
        }

        // A rejection is counted under its public reason (the dashboard's "by reason" panel), never a free-form text.
        Assert.Contains(scrape.Split('\n'), l => l.StartsWith("grpcbank_commands_total{", StringComparison.Ordinal)
            && l.Contains("command=\"WithdrawMoney\"") && l.Contains("outcome=\"rejected\"") && l.Contains("reason=\"INSUFFICIENT_FUNDS\""));
        Assert.DoesNotContain(scrape.Split('\n'), l => l.Contains("outcome=\"accepted\"") && l.Contains("reason="));

        foreach (var name in queried)
        {
            if (AppearOnFirstEvent.TryGetValue(name, out var instrument))
                Assert.True(served.Contains(name) || $"{instrument.Replace('.', '_')}_total" == name, $"{name} is not the exported name of {instrument}");
            else
                Assert.True(served.Contains(name), $"the dashboard or an alert queries {name}, which /metrics does not serve");
        }
    }

    /// <summary>Counters with no series until their first event (no dead letter happens in a healthy workload), by instrument name.</summary>
    private static readonly Dictionary<string, string> AppearOnFirstEvent = new()
    {
        ["grpcbank_relay_dead_letters_total"] = Telemetry.DeadLetters.Name,
    };

    /// <summary>The metric names in the dashboard's and the rules' PromQL.</summary>
    private static HashSet<string> QueriedMetrics()
    {
        var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Deploy, "grafana", "dashboards", "grpcbank.json")));
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!)
            .Append(File.ReadAllText(Path.Combine(Deploy, "prometheus", "alerts.yml")));
        return [.. expressions.SelectMany(e => MetricName().Matches(e)).Select(m => m.Value)];
    }

    [GeneratedRegex(@"\b(?:grpcbank|http_server)_[a-z_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"- alert: (\w+)")]
    private static partial Regex AlertName();
}
