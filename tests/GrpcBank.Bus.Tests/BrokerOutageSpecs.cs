using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Application.Relay;
using GrpcBank.Bus.RabbitMq;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Contracts.Query.V1;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Bus.Tests;

/// <summary>The bus when its broker goes away: each spec has a RabbitMQ node of its own to stop and start (or none at all).</summary>
public sealed class BrokerOutageSpecs
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task ABrokerThatStaysDown_CostsTheBusOneWarning_NotOneEveryRetry()
    {
        var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(logging => logging.AddProvider(logs));
        // Nothing listens there: every try is refused at once, as while a broker is down.
        var options = new RabbitMqBusOptions(new Uri($"amqp://guest:guest@127.0.0.1:{FreePorts.Next()}/"))
        {
            RetryInterval = TimeSpan.FromMilliseconds(50), RetryFor = TimeSpan.FromSeconds(1),
        };
        await using var sink = new RabbitMqBusSink(options, loggers.CreateLogger<RabbitMqBusSink>());
        var opened = new RecordedEvent(1, "account-a", 1, Guid.NewGuid(), "accounts.AccountOpened.v1", "{}", "{}", DateTimeOffset.UtcNow);

        // Two of the relay's passes: each tries for RetryFor, then fails to the relay, which reports it and backs off.
        for (var pass = 0; pass < 2; pass++)
            await Assert.ThrowsAsync<BusUnavailableException>(() => sink.HandleAsync([opened], 1, TestContext.Current.CancellationToken));

        // A warning per retry grew the log every RetryInterval (a second by default) for as long as the broker was down.
        Assert.Single(logs.Lines, line => line.StartsWith("Warning ") && line.Contains("Event bus"));
    }

    [Fact]
    public async Task ABrokerRestartedUnderLoad_LosesNoEvent_AndEachStreamStaysInOrder_DuplicatesAllowedAndCounted()
    {
        await using var node = await RabbitMqNode.CreateAsync();
        var exchange = RabbitMqBroker.NewExchange();
        await using var queue = await BusQueue.DeclareAsync(node.Url, exchange);
        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", node.Url), ("Bus:RabbitMq:Exchange", exchange));
        var ids = await MixedWorkload.OpenAccountsAsync(host.Channel, 6);
        var bus = host.Get<RelayProgress>().For(RabbitMqBusSink.SinkName);

        using var stop = new CancellationTokenSource();
        var load = MixedWorkload.RunAsync(host.Channel, ids, writers: 4, rounds: int.MaxValue, stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var publishedBefore = bus.DeliveredEvents;
        await node.StopAsync();
        // The bus notices (its publishes fail), while commands go on being answered.
        await Eventually.Async(() => Task.FromResult(bus.LastError));
        await Task.Delay(TimeSpan.FromSeconds(2));
        await node.StartAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        stop.Cancel();
        await load; // throws if any command failed for a reason other than a business refusal

        await queue.StartAsync();
        var (stored, received) = await Delivery.EverythingAsync(host.Get<IEventStore>(), queue, Patience);

        var duplicates = received.Count - received.Select(r => r.Id).Distinct().Count();
        TestContext.Current.SendDiagnosticMessage(
            $"{stored.Count} events stored, {received.Count} messages received, {duplicates} duplicates; {publishedBefore} published before the stop");
        Assert.True(publishedBefore > 0, "the bus was publishing when the broker stopped");
        Assert.Equal(stored.Select(e => e.EventId).Order(), received.Select(r => r.Id).Distinct().Order());
        Assert.Null(Delivery.FirstStreamOutOfOrder(received));
    }

    [Fact]
    public async Task WithTheBrokerDownAtStartUp_TheServerStartsAndServes_AndTheBusCatchesUpWhenTheBrokerComes()
    {
        // The queue must exist before the bank publishes (an exchange drops what no queue is bound to): declare it on a
        // first run of the node, then stop the node before the server starts.
        await using var node = await RabbitMqNode.CreateAsync();
        var exchange = RabbitMqBroker.NewExchange();
        await using var queue = await BusQueue.DeclareAsync(node.Url, exchange);
        await node.StopAsync();

        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", node.Url), ("Bus:RabbitMq:Exchange", exchange));
        var ids = await MixedWorkload.OpenAccountsAsync(host.Channel, 4);
        await MixedWorkload.RunAsync(host.Channel, ids, writers: 4, rounds: 20);
        var deposit = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = ids[0], AmountMinor = 1, CurrencyCode = "EUR" });
        // Reads follow writes as ever: the read side does not wait for the bus.
        var account = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = ids[0], MinPosition = deposit.Position },
            deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(deposit.BalanceMinor, account.Account.BalanceMinor);
        var admin = new ProjectionService.ProjectionServiceClient(host.Channel);
        var down = await Eventually.Async(async () =>
            (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.SingleOrDefault(p => p.Name == RabbitMqBusSink.SinkName)
                is { State: ProjectionState.Failing, LagEvents: > 0 } bus ? bus : null);
        Assert.Contains("RabbitMQ", down.LastError);
        var readSide = (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.Single(p => p.Name == ReadStoreSink.SinkName);
        Assert.Equal(ProjectionState.Running, readSide.State);

        await node.StartAsync();
        await queue.StartAsync();
        var (stored, received) = await Delivery.EverythingAsync(host.Get<IEventStore>(), queue, Patience);

        Assert.Equal(stored.Select(e => e.EventId).Order(), received.Select(r => r.Id).Order());
        Assert.Null(Delivery.FirstStreamOutOfOrder(received));
        var caughtUp = await Eventually.Async(async () =>
            (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.SingleOrDefault(p => p.Name == RabbitMqBusSink.SinkName)
                is { State: ProjectionState.Running, LagEvents: 0 } bus ? bus : null);
        Assert.Equal("", caughtUp.LastError);
    }

    [Fact]
    public async Task RestartedWithTheBrokerDown_TheBusShowsItsCheckpoint_AndALagOfWhatItHasNotPublishedOnly()
    {
        await using var node = await RabbitMqNode.CreateAsync();
        var exchange = RabbitMqBroker.NewExchange();
        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", node.Url), ("Bus:RabbitMq:Exchange", exchange));
        var ids = await MixedWorkload.OpenAccountsAsync(host.Channel, 3);
        var published = await BusStatusAsync(host, s => s is { LagEvents: 0, Position: > 0 });

        await host.RestartAsync(() => node.StopAsync().GetAwaiter().GetResult());

        // Everything up to its checkpoint is on the broker: nothing waits for it, so it is caught up, broker or not.
        var restarted = await BusStatusAsync(host, s => s.Position >= published.Position);
        Assert.Equal((ProjectionState.Running, 0L, restarted.HeadPosition), (restarted.State, restarted.LagEvents, restarted.Position));
        // What comes now cannot be published: that, and only that, is its lag.
        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = ids[0], AmountMinor = 1, CurrencyCode = "EUR" });
        var failing = await BusStatusAsync(host, s => s.State == ProjectionState.Failing);
        Assert.Equal((1L, published.Position), (failing.LagEvents, failing.Position));
    }

    [Fact]
    public async Task AServerStopped_WhileItsBrokerHangs_StopsWithinSeconds()
    {
        // A broker that answers nothing (frozen, or behind a partition) must not hold a stopping server for the client's
        // close handshakes: an orchestrator kills a server that takes longer than its grace period (often 10–30 s).
        await using var node = await RabbitMqNode.CreateAsync();
        var exchange = RabbitMqBroker.NewExchange();
        var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", node.Url), ("Bus:RabbitMq:Exchange", exchange));
        var ids = await MixedWorkload.OpenAccountsAsync(host.Channel, 1);
        await BusStatusAsync(host, s => s is { LagEvents: 0, Position: > 0 });
        await node.FreezeAsync();
        try
        {
            // The bus publishes this into the silence and waits for a confirm that does not come.
            await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = ids[0], AmountMinor = 1, CurrencyCode = "EUR" });
            await Task.Delay(TimeSpan.FromSeconds(1));

            var stopping = System.Diagnostics.Stopwatch.StartNew();
            await host.DisposeAsync();

            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the server took {stopping.Elapsed.TotalSeconds:0.0} s to stop");
        }
        finally
        {
            await node.ThawAsync();
        }
    }

    private static async Task<ProjectionStatus> BusStatusAsync(BankHost host, Func<ProjectionStatus, bool> condition)
    {
        var admin = new ProjectionService.ProjectionServiceClient(host.Channel);
        return await Eventually.Async(async () =>
            (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.Single(p => p.Name == RabbitMqBusSink.SinkName)
                is var bus && condition(bus) ? bus : null);
    }
}
