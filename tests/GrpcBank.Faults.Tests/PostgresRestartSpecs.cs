using System.Diagnostics;
using GrpcBank.Application.Accounts;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Errors;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Faults.Tests;

/// <summary>PostgreSQL stopped and started again under write load, with the same server process running throughout.</summary>
public sealed class PostgresRestartSpecs
{
    [Fact]
    public async Task WritersHearUnavailableDuringTheOutage_AndAfterwardsTheSameServerWritesAndItsRelayCatchesUp()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await using var host = await BankHost.StartAsync(
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("ConnectionStrings:Postgres", cluster.ConnectionString));
        var load = await DepositLoad.OpenAccountsAsync(host.Channel, 3);
        using var stop = new CancellationTokenSource();
        var writing = load.RunAsync(host.Channel, writers: 4, stop.Token);
        await Task.Delay(1_000);
        var acknowledgedBeforeOutage = load.Acknowledged.Count;

        await cluster.StopAsync();
        await Task.Delay(2_000);
        var failedDuringOutage = load.Failures.Values.Sum();
        await cluster.StartAgainAsync();
        await Task.Delay(2_000);
        stop.Cancel();
        await writing.WaitAsync(TimeSpan.FromSeconds(30));

        // Every acknowledged deposit is checked below: the load must have written some before the outage.
        Assert.True(acknowledgedBeforeOutage > 0, "no write was acknowledged before PostgreSQL went down");
        Assert.True(failedDuringOutage > 0, "no write failed while PostgreSQL was down");
        Assert.Equal([StatusCode.Unavailable], load.Failures.Keys);
        await load.AssertCaughtUpAsync(host.Channel);
        TestContext.Current.SendDiagnosticMessage($"{load.Acknowledged.Count} acknowledged, {failedDuringOutage} UNAVAILABLE during the outage");
    }

    [Fact]
    public async Task ThePostgresRestartingUnderTheRelay_IsLoggedAsItsLeaseLost_NotAsAFailureOfTheRelay_AndDeliveryResumes()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        var logs = new CapturedLogs();
        await using var host = await StartLoggedAsync(cluster, logs);
        var accounts = new AccountService.AccountServiceClient(host.Channel);
        var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Lease Lost", CurrencyCode = "EUR" });

        await cluster.StopAsync();
        await cluster.StartAgainAsync();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!logs.Lines.Any(l => l.Contains("Outbox relay lease lost")) && DateTime.UtcNow < until) await Task.Delay(100);
        // A pooled connection the restart ended answers its first command UNAVAILABLE, safe to retry with the same id.
        var (deposited, _) = await DepositThroughUnavailableAsync(accounts,
            new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 5, CurrencyCode = "EUR", RequestId = "after-restart" }, until);
        var read = await new QueryService.QueryServiceClient(host.Channel).GetAccountAsync(
            new GetAccountRequest { AccountId = opened.AccountId, MinPosition = deposited.Position }, deadline: DateTime.UtcNow.AddSeconds(30));

        Assert.Equal(5, read.Account.BalanceMinor);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning GrpcBank.Application.Relay.OutboxRelay: Outbox relay lease lost"));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("Outbox relay failed"));
    }

    [Fact]
    public async Task AnOutage_CostsHoldExpiryOneWarning_NotOneEveryPoll_AndItSaysWhenItWorksAgain()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        var logs = new CapturedLogs();
        // The hold index is in PostgreSQL too: every poll fails during the outage.
        await using var host = await StartLoggedAsync(cluster, logs, ("ReadStore:Kind", "Postgres"));
        static bool Failed(string line) => line.Contains("Releasing expired holds failed");

        await cluster.StopAsync();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!logs.Lines.Any(Failed) && DateTime.UtcNow < until) await Task.Delay(100);
        await Task.Delay(4 * HoldExpiry.MaxRetryInterval / 5); // polls every 250 ms would be a dozen more
        await cluster.StartAgainAsync();
        while (!logs.Lines.Any(l => l.Contains("Releasing expired holds works again")) && DateTime.UtcNow < until) await Task.Delay(100);

        Assert.Single(logs.Lines, l => l.StartsWith("Warning GrpcBank.Application.Accounts.HoldExpiry: Releasing expired holds failed"));
        Assert.Contains(logs.Lines, l => l.StartsWith("Information GrpcBank.Application.Accounts.HoldExpiry: Releasing expired holds works again"));
    }

    [Fact]
    public async Task AnOutage_CostsLiveSubscriptionsOneWarning_NotOneEveryPoll_AndItSaysWhenItWorksAgain()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        var logs = new CapturedLogs();
        await using var host = await StartLoggedAsync(cluster, logs);
        var opened = await new AccountService.AccountServiceClient(host.Channel).OpenAccountAsync(
            new OpenAccountRequest { OwnerName = "Live Through", CurrencyCode = "EUR" });
        // A subscriber caught up and waiting: the server looks at the store for it every 250 ms, outage or not.
        using var subscription = new HistoryService.HistoryServiceClient(host.Channel).SubscribeAll(new SubscribeAllRequest(),
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(await subscription.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        Assert.Equal(opened.Position, subscription.ResponseStream.Current.Event.Position);
        static bool Failed(string line) => line.Contains("Live subscriptions could not read the event store");

        await cluster.StopAsync();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!logs.Lines.Any(Failed) && DateTime.UtcNow < until) await Task.Delay(100);
        await Task.Delay(2_000); // a warning (with its stack trace) per look would be eight more
        await cluster.StartAgainAsync();
        while (!logs.Lines.Any(l => l.Contains("Live subscriptions read the event store again")) && DateTime.UtcNow < until) await Task.Delay(100);

        Assert.Single(logs.Lines, l => l.StartsWith("Warning ") && Failed(l));
        Assert.Contains(logs.Lines, l => l.StartsWith("Information GrpcBank.Server.History.LiveEvents: Live subscriptions read the event store again"));
    }

    [Fact]
    public async Task AnOutage_CostsTheCallsItFailsOneWarning_NotOneEach()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        var logs = new CapturedLogs();
        await using var host = await StartLoggedAsync(cluster, logs);
        var accounts = new AccountService.AccountServiceClient(host.Channel);
        var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Many Retries", CurrencyCode = "EUR" });
        const int calls = 40;

        await cluster.StopAsync();
        var watch = Stopwatch.StartNew();
        var unavailable = 0;
        for (var i = 0; i < calls; i++)
            try
            {
                await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 1, CurrencyCode = "EUR" },
                    deadline: DateTime.UtcNow.AddSeconds(30));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                unavailable++;
            }
        var elapsed = watch.Elapsed;
        await cluster.StartAgainAsync();

        Assert.Equal(calls, unavailable);
        // A warning with its stack trace per call grew the log with the request rate for as long as the outage lasted.
        var warnings = logs.Lines.Count(l => l.StartsWith("Warning ") && l.Contains("failed on a transient infrastructure fault"));
        Assert.InRange(warnings, 1, 1 + (int)(elapsed / TransientFaultLog.Quiet));
    }

    [Fact]
    public void TransientFaults_AreLoggedOncePerQuietPeriod_AndTheNextWarningCountsThoseLeftUnlogged()
    {
        var clock = new ManualClock();
        var log = new TransientFaultLog(clock);

        var first = log.Admit();
        var during = Enumerable.Range(0, 3).Select(_ => log.Admit()).ToList();
        clock.Advance(TransientFaultLog.Quiet);
        var next = log.Admit();

        Assert.Equal(0, first);
        Assert.All(during, Assert.Null);
        Assert.Equal(3, next);
    }

    [Fact]
    public void TheQuietPeriod_IsTimeThatPassed_NotTheWallClock_WhichMayBeSetBack()
    {
        var clock = new ManualClock();
        var log = new TransientFaultLog(clock);
        log.Admit();

        clock.SetWallClockBy(TimeSpan.FromHours(-1));
        clock.Advance(TransientFaultLog.Quiet);

        Assert.Equal(0, log.Admit());
    }

    [Fact]
    public async Task AfterARestart_TheConnectionsItEnded_FailOneCommandBetweenThem_NotOneEach()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await using var host = await BankHost.StartAsync(
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("ConnectionStrings:Postgres", cluster.ConnectionString));
        var accounts = new AccountService.AccountServiceClient(host.Channel);
        var ids = new List<string>();
        for (var i = 0; i < 16; i++)
            ids.Add((await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = $"Pool {i}", CurrencyCode = "EUR" })).AccountId);
        // Many statements at once leave many open connections idle in the server's pools.
        var history = new HistoryService.HistoryServiceClient(host.Channel);
        for (var round = 0; round < 5; round++)
            await Task.WhenAll(ids.Select(id => history.ReadStreamAsync(new ReadStreamRequest { StreamId = "account-" + id }).ResponseAsync));
        await Task.WhenAll(ids.Select(id => accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync));

        await cluster.StopAsync();
        await cluster.StartAgainAsync();
        var (unavailable, until) = (0, DateTime.UtcNow.AddSeconds(30));
        for (var i = 0; i < 20; i++)
        {
            var deposit = new DepositMoneyRequest { AccountId = ids[i % ids.Count], AmountMinor = 1, CurrencyCode = "EUR", RequestId = $"after-restart-{i}" };
            unavailable += (await DepositThroughUnavailableAsync(accounts, deposit, until)).Unavailable;
        }

        TestContext.Current.SendDiagnosticMessage($"{unavailable} deposits answered UNAVAILABLE after the restart");
        Assert.InRange(unavailable, 0, 2);
    }

    /// <summary>Sends <paramref name="deposit"/> again, with its request id, while it answers UNAVAILABLE (until <paramref name="until"/>).</summary>
    private static async Task<(DepositMoneyResponse Reply, int Unavailable)> DepositThroughUnavailableAsync(
        AccountService.AccountServiceClient accounts, DepositMoneyRequest deposit, DateTime until)
    {
        for (var unavailable = 0; ; unavailable++)
            try
            {
                return (await accounts.DepositMoneyAsync(deposit, deadline: DateTime.UtcNow.AddSeconds(30)), unavailable);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < until)
            {
                await Task.Delay(100);
            }
    }

    /// <summary>A server on <paramref name="cluster"/> (and a data directory of its own) whose log <paramref name="logs"/> captures.</summary>
    private static Task<BankHost> StartLoggedAsync(ThrowawayCluster cluster, CapturedLogs logs, params (string Key, string Value)[] extra) =>
        BankHost.StartAsync(
            new Dictionary<string, string> { ["Storage:DataDirectory"] = KillUnderLoadSpecs.TempDirectory(), ["ConnectionStrings:Postgres"] = cluster.ConnectionString },
            builder => builder.Logging.AddProvider(logs), extra);
}
