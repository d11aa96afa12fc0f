using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Ctl.Top;

namespace GrpcBank.Ctl.Tests;

/// <summary>
/// A server process with a steady workload (deposits, and overdrafts the bank refuses), for bankctl top to watch. A
/// process of its own, so that its /metrics counts only this workload (in-process hosts share one meter).
/// </summary>
public sealed class BusyServer : IAsyncLifetime
{
    private readonly CancellationTokenSource stop = new();
    private Task? workload;
    private readonly string dataDirectory = Directory.CreateTempSubdirectory("grpcbank-top-").FullName;

    public ServerProcess Server { get; private set; } = null!;
    public string MetricsUrl { get; private set; } = "";
    public long Commands => Interlocked.Read(ref commands);
    private long commands;

    public async ValueTask InitializeAsync()
    {
        var port = FreePorts.Next();
        MetricsUrl = $"http://127.0.0.1:{port}/metrics";
        Server = await ServerProcess.StartAsync(
            ("Storage:DataDirectory", dataDirectory), ("Metrics:Url", $"http://127.0.0.1:{port}"));
        var accounts = new AccountService.AccountServiceClient(Server.Channel);
        var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" });
        workload = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    if (i % 5 == 4)
                        await accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = opened.AccountId, AmountMinor = 10_000_000, CurrencyCode = "EUR" }, cancellationToken: stop.Token);
                    else
                        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 1, CurrencyCode = "EUR" }, cancellationToken: stop.Token);
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.InvalidArgument or StatusCode.Cancelled)
                {
                    // the refused overdraft, or the end of the test
                }
                Interlocked.Increment(ref commands);
                await Task.Delay(20, CancellationToken.None); // about 40 commands/s: steady, without starving the machine
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        if (workload is not null) await workload;
        await Server.DisposeAsync();
        Directory.Delete(dataDirectory, recursive: true);
    }
}

/// <summary>bankctl top, watched as a person watches it (in a terminal) and read as a script reads it (--json).</summary>
public sealed partial class TopSpecs(BusyServer bank) : IClassFixture<BusyServer>
{
    private static readonly string? Tmux = ChildProcess.FindOnPath("tmux");

    [Fact]
    public async Task InATerminal_TheScreenShowsCommandsPerSecond_Rejections_AndEveryConsumer_WhileAWorkloadRuns()
    {
        Assert.SkipWhen(Tmux is null, "tmux is not installed (.ci/run installs it): cannot watch bankctl top in a terminal");
        var ct = TestContext.Current.CancellationToken;
        var socket = $"grpcbank-top-{Environment.ProcessId}";
        // bankctl from its own build folder (the copy beside the tests resolves the tests' dependencies, not its own).
        var bankctl = typeof(TopSpecs).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BankctlDll").Value;
        // If bankctl ends, the pane keeps its last words and exit code on screen for the failure message.
        var command = $"dotnet {bankctl} --server {bank.Server.Url} top --metrics {bank.MetricsUrl}; echo bankctl exited with $?; sleep 60";
        var started = await ChildProcess.RunAsync(Tmux!, ["-L", socket, "new-session", "-d", "-s", "top", "-x", "120", "-y", "40", command],
            TimeSpan.FromSeconds(30), Path.GetTempPath());
        Assert.True(started.ExitCode == 0, started.ToString());
        try
        {
            var screen = "";
            var waited = Stopwatch.StartNew();
            while (!Shows(screen))
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(40), $"bankctl top did not show the workload within 40 s; the screen:\n{screen}");
                await Task.Delay(500, ct);
                var captured = await ChildProcess.RunAsync(Tmux!, ["-L", socket, "capture-pane", "-p", "-t", "top"], TimeSpan.FromSeconds(30), Path.GetTempPath());
                screen = captured.Output;
            }
            TestContext.Current.SendDiagnosticMessage($"bankctl top in tmux:\n{screen}");
        }
        finally
        {
            await ChildProcess.RunAsync(Tmux!, ["-L", socket, "kill-server"], TimeSpan.FromSeconds(30), Path.GetTempPath());
        }
    }

    /// <summary>The figures row under COMMANDS/S has a nonzero rate; both consumers and the refused overdrafts are listed.</summary>
    private static bool Shows(string screen)
    {
        var figures = FiguresRow().Match(screen);
        return figures.Success && double.Parse(figures.Groups[1].Value, CultureInfo.InvariantCulture) > 0
            && screen.Contains("read-side") && screen.Contains("payment-process") && screen.Contains("INSUFFICIENT_FUNDS");
    }

    [GeneratedRegex(@"COMMANDS/S[^\n]*\n[^\n]*\n\S\s*(\d+\.\d)\s")]
    private static partial Regex FiguresRow();

    [Fact]
    public async Task Json_PrintsOneSamplePerLine_WithTheWorkloadsRate_ItsRejectionsByReason_AndEveryConsumer()
    {
        var run = await Ctl.RunAsync(bank.Server.Url, "top", "--metrics", bank.MetricsUrl, "--json", "--samples", "3", "--interval", "0.5");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(3, run.Lines.Length);
        var samples = run.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(samples, s => Assert.Equal(["payment-process", "read-side"],
            s.GetProperty("consumers").EnumerateArray().Select(c => c.GetProperty("name").GetString()).Order()));
        Assert.Contains(samples, s => s.GetProperty("commands_per_second").GetDouble() > 0 && s.GetProperty("p99_ms").ValueKind == JsonValueKind.Number);
        var last = samples[^1];
        var refused = Assert.Single(last.GetProperty("rejections").EnumerateArray(), r => r.GetProperty("reason").GetString() == "INSUFFICIENT_FUNDS");
        Assert.True(refused.GetProperty("total").GetInt64() > 0);
        Assert.True(DateTimeOffset.Parse(last.GetProperty("time").GetString()!, CultureInfo.InvariantCulture) > DateTimeOffset.Parse(samples[0].GetProperty("time").GetString()!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Redirected_PrintsPlainTablesOncePerSample_ColumnsTwoSpacesApart_NoBoxes()
    {
        var run = await Ctl.RunAsync(bank.Server.Url, "top", "--metrics", bank.MetricsUrl, "--samples", "2", "--interval", "0.5");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.DoesNotContain(run.Stdout, c => c is >= '\u2500' and <= '\u257f'); // box drawing
        Assert.Equal(2, run.Lines.Count(l => l.StartsWith("GrpcBank top", StringComparison.Ordinal)));
        Assert.Equal(2, run.Lines.Count(l => l.StartsWith("COMMANDS/S  P50 MS", StringComparison.Ordinal)));
        Assert.Contains(run.Lines, l => l.StartsWith("read-side ", StringComparison.Ordinal) && l.Contains("running"));
    }

    [Fact]
    public void Quantiles_AreEstimatedAsPrometheusDoes_FromTheScrapedText()
    {
        var scrape = Scrape.Of(DateTimeOffset.UnixEpoch, MetricsText.Parse("""
            # TYPE http_server_request_duration_seconds histogram
            http_server_request_duration_seconds_bucket{http_route="/bank.accounts.v1.AccountService/DepositMoney",le="0.1"} 0
            http_server_request_duration_seconds_bucket{http_route="/bank.accounts.v1.AccountService/DepositMoney",le="1"} 10
            http_server_request_duration_seconds_bucket{http_route="/bank.accounts.v1.AccountService/DepositMoney",le="+Inf"} 10
            http_server_request_duration_seconds_bucket{http_route="/bank.admin.v1.ProjectionService/GetProjectionStatus",le="+Inf"} 99
            grpcbank_commands_total{otel_scope_name="GrpcBank",aggregate="account",command="WithdrawMoney",outcome="rejected",reason="INSUFFICIENT_FUNDS"} 4 1700000000000
            """));

        var buckets = scrape.LatencyBuckets.OrderBy(b => b.Key).Select(b => (b.Key, b.Value)).ToList();
        Assert.Equal(0.55, TopSample.Quantile(0.5, buckets)!.Value, 6); // 0.1 + (1 - 0.1) × 5/10; the admin call is not counted
        Assert.Equal(4, scrape.RejectedByReason["INSUFFICIENT_FUNDS"]);
        Assert.Null(TopSample.Quantile(0.5, []));
    }
}
