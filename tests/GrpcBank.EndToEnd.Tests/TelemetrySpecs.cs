using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using GrpcBank.Application;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// The GrpcBank meter and activity source are process-wide, and every host in this process reports into them, so these
/// specs run alone (after the parallel ones) and can count exactly.
/// </summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class TelemetryCollection;

/// <summary>Traces cross the outbox through event metadata; metrics are scraped from /metrics as Prometheus would.</summary>
[Collection(typeof(TelemetryCollection))]
public sealed class TelemetrySpecs : IDisposable
{
    private static readonly ActivitySource TestSource = new("GrpcBank.Tests");

    private readonly RecordedSpans spans = new(TestSource.Name);

    private ConcurrentQueue<Activity> stopped => spans.Stopped;

    public void Dispose() => spans.Dispose();

    [Fact]
    public async Task OneDeposit_IsOneTrace_FromTheGrpcCallThroughTheAppendAndTheOutboxToTheReadSide()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        var id = Guid.NewGuid().ToString("N");
        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada", CurrencyCode = "EUR" });
        // Let the account's own event reach the read side first, so the deposit travels through the relay in a batch of its own.
        await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = opened.Position });

        DepositMoneyResponse deposited;
        ActivityTraceId testTrace;
        using (var root = TestSource.StartActivity("test: deposit"))
        {
            testTrace = root!.TraceId;
            deposited = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 500, CurrencyCode = "EUR" });
        }
        await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = deposited.Position });

        var command = await SpanAsync(a => a.OperationName == "account DepositMoney" && Tag(a, "grpcbank.aggregate_id") == id);
        Assert.Equal(testTrace, command.TraceId); // the client's trace context came in with the gRPC call
        Assert.Equal("accepted", Tag(command, "grpcbank.outcome"));
        var append = await SpanAsync(a => a.OperationName == "event store append" && a.TraceId == command.TraceId);
        Assert.Equal(command.SpanId, append.ParentSpanId);
        // No retry: a retry would be another append under the same command.
        Assert.Single(stopped, a => a.OperationName == "event store append" && a.ParentSpanId == command.SpanId);
        Assert.Equal($"account-{id}", Tag(append, "grpcbank.stream_id"));
        Assert.Equal("1", Tag(append, "grpcbank.event_count"));
        Assert.Equal(deposited.Position.ToString(CultureInfo.InvariantCulture), Tag(append, "grpcbank.position"));
        var relay = await SpanAsync(a => a.OperationName == "relay deliver read-side" && a.TraceId == command.TraceId);

        // The relay runs on its own background loop with no ambient activity: its parent can only have come from the
        // traceparent stored with the event, which names the command's span.
        Assert.True(relay.HasRemoteParent);
        Assert.Equal(command.SpanId, relay.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, relay.Kind);
        Assert.Equal("1", Tag(relay, "grpcbank.event_count"));
        var stored = (await host.Get<IEventStore>().ReadStreamAsync($"account-{id}", 2, 1, CancellationToken.None)).Single();
        var traceparent = JsonDocument.Parse(stored.MetadataJson).RootElement.GetProperty("traceparent").GetString();
        Assert.Equal($"00-{command.TraceId}-{command.SpanId}-01", traceparent);
    }

    [Fact]
    public void ABatchMixingTraces_StartsItsOwnTrace_LinkedToEachOfThem()
    {
        var a = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        var b = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        RecordedEvent Event(long position, ActivityContext parent) => new(position, "account-x", position, Guid.NewGuid(), "t", "{}",
            $$"""{"requestId":null,"traceparent":"00-{{parent.TraceId}}-{{parent.SpanId}}-01"}""", DateTimeOffset.UnixEpoch);

        using (var single = Telemetry.StartDelivery("sink", [Event(1, a), Event(2, a)], 2))
        {
            Assert.Equal(a.TraceId, single!.TraceId);
            Assert.Equal(a.SpanId, single.ParentSpanId);
        }
        using var mixed = Telemetry.StartDelivery("sink", [Event(3, a), Event(4, b), Event(5, a)], 5);
        Assert.NotEqual(a.TraceId, mixed!.TraceId);
        Assert.NotEqual(b.TraceId, mixed.TraceId);
        Assert.Equal(default, mixed.ParentSpanId);
        Assert.Equal([a.TraceId, b.TraceId], mixed.Links.Select(l => l.Context.TraceId));
    }

    [Fact]
    public async Task TheCommandCounter_CountsAcceptedAndRejectedCommands_OnTheGrpcPortOverCleartextHttp2()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        using var http = OnGrpcPort(host);
        var id = Guid.NewGuid().ToString("N");
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada", CurrencyCode = "EUR" });
        var accepted = await CounterAsync(http, "DepositMoney", "accepted");
        var rejected = await CounterAsync(http, "WithdrawMoney", "rejected");

        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 100, CurrencyCode = "EUR" });
        await Eventually(async () => Assert.Equal(accepted + 1, await CounterAsync(http, "DepositMoney", "accepted")));
        await Rejected("INSUFFICIENT_FUNDS", () => host.Accounts.WithdrawMoneyAsync(
            new WithdrawMoneyRequest { AccountId = id, AmountMinor = 1_000_000, CurrencyCode = "EUR" }).ResponseAsync);
        await Eventually(async () => Assert.Equal(rejected + 1, await CounterAsync(http, "WithdrawMoney", "rejected")));

        var scrape = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        Assert.Contains("grpcbank_append_duration_milliseconds_bucket{", scrape);
        Assert.Contains("grpcbank_relay_delivered_total{otel_scope_name=\"GrpcBank\",sink=\"read-side\"}", scrape);
        Assert.Matches(new Regex(@"^grpcbank_relay_lag\{[^}]*\} \d+$", RegexOptions.Multiline), scrape);
    }

    [Fact]
    public async Task ARefusedAtomicBatch_CountsTheCommandThatFailedIt_AsARejectionWithItsReason()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        using var http = OnGrpcPort(host);
        var batches = new BatchService.BatchServiceClient(host.Channel);
        var id = Guid.NewGuid().ToString("N");
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada", CurrencyCode = "EUR" });
        var overdrafts = await RejectionsAsync(http, "WithdrawMoney", "INSUFFICIENT_FUNDS");
        var deposits = await CounterAsync(http, "DepositMoney", "rejected");

        // The overdraft refuses the whole batch, the deposit before it with it: the client hears INSUFFICIENT_FUNDS, and
        // an operator must see it among the rejections as a refused single withdrawal shows there.
        await Rejected("INSUFFICIENT_FUNDS", () => batches.ExecuteBatchAsync(new ExecuteBatchRequest
        {
            Atomic = true,
            Commands =
            {
                new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = id, AmountMinor = 100, CurrencyCode = "EUR" } },
                new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = id, AmountMinor = 1_000_000, CurrencyCode = "EUR" } },
            },
        }).ResponseAsync);

        await Eventually(async () => Assert.Equal(overdrafts + 1, await RejectionsAsync(http, "WithdrawMoney", "INSUFFICIENT_FUNDS")));
        // The deposit was not refused for a reason of its own.
        Assert.Equal(deposits, await CounterAsync(http, "DepositMoney", "rejected"));
    }

    [Fact]
    public async Task AFreshlyStartedServer_ShowsNoCommandsOrGroupCommits_ItsOwnWarmUpIsNotMeasured()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        using var http = OnGrpcPort(host);

        var scrape = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" });
        await Rejected("ACCOUNT_NOT_FOUND", () => host.Accounts.DepositMoneyAsync(
            new DepositMoneyRequest { AccountId = "nobody", AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, StatusCode.NotFound);

        // The warm-up opened accounts, deposited, withdrew and transferred, in process and over its own address.
        Assert.Equal(0, Sum(scrape, "grpcbank_commands_total{"));
        Assert.Equal(0, Sum(scrape, "grpcbank_append_group_size_count{"));
        Assert.Equal(0, Sum(scrape, "grpcbank_append_duration_milliseconds_count{"));
        Assert.DoesNotMatch(new Regex(@"^http_server_request_duration_seconds_count\{[^}]*DepositMoney[^}]*\} [1-9]", RegexOptions.Multiline), scrape);
        await Eventually(async () =>
        {
            Assert.Equal(1, await CounterAsync(http, "OpenAccount", "accepted"));
            Assert.Equal(1, await CounterAsync(http, "DepositMoney", "rejected"));
        });
        Assert.NotEmpty(opened.AccountId);
    }

    [Fact]
    public async Task AFreshlyStartedServer_RecordsNoSpanOfItsOwnWarmUp_ForATraceBackend()
    {
        await using var host = await BankHost.StartEmbeddedAsync();

        // In process and over its own address the warm-up opened, deposited, withdrew, transferred and was refused:
        // none of it is a span the server would export (only recorded activities of the sources it traces are).
        var warmUp = stopped.Where(a => a.Recorded && (a.Source.Name == Telemetry.Name || (a.Source.Name == "Microsoft.AspNetCore"
            && (a.DisplayName.Contains("Service/", StringComparison.Ordinal)
                || a.TagObjects.Any(t => t.Value?.ToString()?.Contains("Service/", StringComparison.Ordinal) == true))))).ToList();
        Assert.True(warmUp.Count == 0, string.Join("; ", warmUp.Select(a => $"{a.Source.Name}: {a.DisplayName} " +
            string.Join(",", a.TagObjects.Select(t => $"{t.Key}={t.Value}")))));

        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" });
        Assert.Contains(stopped, a => a.Recorded && a.DisplayName == "account OpenAccount");
    }

    [Fact]
    public async Task EachGroupCommit_IsScrapedByItsSizeAndResult_WithinTheBoundTheConfigurationSets()
    {
        // One append a group: 64 deposits at once, which the default bound would gather into fewer groups, take 64.
        await using var host = await BankHost.StartEmbeddedAsync(("EventStore:GroupCommit:MaxAppends", "1"));
        using var http = OnGrpcPort(host);
        var accounts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" }).ResponseAsync));
        (long Groups, long OfOne) before = default;
        await Eventually(async () => Assert.True((before = await WrittenGroupsAsync(http)).Groups >= 8));

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => host.Accounts.DepositMoneyAsync(
            new DepositMoneyRequest { AccountId = accounts[i % 8].AccountId, AmountMinor = 100, CurrencyCode = "EUR" }).ResponseAsync));

        await Eventually(async () =>
        {
            var after = await WrittenGroupsAsync(http);
            Assert.Equal(64, after.Groups - before.Groups);
            Assert.Equal(64, after.OfOne - before.OfOne);
        });
        var scrape = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        Assert.Matches(new Regex(@"^grpcbank_append_group_duration_milliseconds_count\{[^}]*result=""written""[^}]*\} \d+$", RegexOptions.Multiline), scrape);
    }

    [Fact]
    public async Task MetricsUrl_ServesMetricsOverPlainHttp1_AndOnlyThere()
    {
        var port = FreePorts.Next();
        await using var host = await BankHost.StartEmbeddedAsync(("Metrics:Url", $"http://127.0.0.1:{port}"));
        using var http1 = new HttpClient(); // HTTP/1.1, as Prometheus scrapes
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" });

        var response = await http1.GetAsync($"http://127.0.0.1:{port}/metrics", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Contains("grpcbank_commands_total{", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));

        using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var onGrpcPort = await h2c.GetAsync($"{host.GrpcUrl}/metrics", TestContext.Current.CancellationToken);
        Assert.NotEqual(HttpStatusCode.OK, onGrpcPort.StatusCode);
    }

    /// <summary>/metrics on the gRPC port: h2c with prior knowledge, like curl --http2-prior-knowledge.</summary>
    private static HttpClient OnGrpcPort(BankHost host) => new()
    {
        BaseAddress = new Uri(host.GrpcUrl),
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static async Task<long> CounterAsync(HttpClient http, string command, string outcome) =>
        Sum(await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken), "grpcbank_commands_total{",
            $"command=\"{command}\"", $"outcome=\"{outcome}\"");

    private static async Task<long> RejectionsAsync(HttpClient http, string command, string reason) =>
        Sum(await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken), "grpcbank_commands_total{",
            $"command=\"{command}\"", "outcome=\"rejected\"", $"reason=\"{reason}\"");

    /// <summary>Group commits written so far, and how many of them held one append (the histogram's bucket le="1").</summary>
    private static async Task<(long Groups, long OfOne)> WrittenGroupsAsync(HttpClient http)
    {
        var scrape = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        return (Sum(scrape, "grpcbank_append_group_size_count{", "result=\"written\""),
            Sum(scrape, "grpcbank_append_group_size_bucket{", "result=\"written\"", "le=\"1\""));
    }

    /// <summary>The values of a scrape's series that start with <paramref name="prefix"/> and carry every one of <paramref name="labels"/>, added up.</summary>
    private static long Sum(string scrape, string prefix, params string[] labels) => scrape.Split('\n')
        .Where(line => line.StartsWith(prefix, StringComparison.Ordinal) && labels.All(label => line.Contains(label, StringComparison.Ordinal)))
        .Sum(line => long.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    /// <summary>The Prometheus exporter caches a scrape briefly; retry an assertion on it for a few seconds.</summary>
    private static async Task Eventually(Func<Task> assertion)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Xunit.Sdk.XunitException) when (attempt < 50)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
    }

    private async Task<Activity> SpanAsync(Func<Activity, bool> match)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (stopped.FirstOrDefault(match) is { } found) return found;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        throw new Xunit.Sdk.XunitException($"no such span among: {string.Join(", ", stopped.Select(a => a.OperationName).Distinct())}");
    }

    private static string? Tag(Activity activity, string name) => activity.GetTagItem(name) switch
    {
        null => null,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var v => v.ToString(),
    };
}
