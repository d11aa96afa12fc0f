using GrpcBank.Application.EventStore;
using GrpcBank.Bus.RabbitMq;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Postgres;

namespace GrpcBank.Bus.Tests;

/// <summary>
/// The bus when three real server processes on one PostgreSQL run as one bank, each configured with it: only the relay's
/// lease holder publishes (each event once, not once per server), and when the holder is killed or every server is
/// restarted in turn, the next holder goes on from the bus's checkpoint in the database — nothing lost, each stream in
/// order, repeats counted.
/// </summary>
public sealed class BusAcrossServersSpecs(RabbitMqBroker broker, PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private const int Servers = 3;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ThreeServersEachWithTheBus_PublishEveryEventExactlyOnce_FromTheRelayHolderAlone()
    {
        var (database, exchange) = (await postgres.CreateDatabaseAsync(), RabbitMqBroker.NewExchange());
        await using var queue = await BusQueue.DeclareAsync(broker.Url, exchange);
        await using var cluster = await StartAsync(database, exchange);
        await queue.StartAsync();
        var ids = await MixedWorkload.OpenAccountsAsync(cluster[0].Channel, 6);

        // Writers on every server: each appends, and each would publish if its bus ran without the lease.
        await Task.WhenAll(cluster.Servers.Select(s => MixedWorkload.RunAsync(s.Channel, ids, writers: 2, rounds: 18)));
        await using var store = await PostgresEventStore.OpenAsync(database, null, TestContext.Current.CancellationToken);
        var (stored, received) = await Delivery.EverythingAsync(store, queue, Patience);

        // Exactly once: no fault happened, so a repeat here is a second publisher.
        Assert.Equal(stored.Count, received.Count);
        Assert.Equal(stored.Select(e => e.EventId).Order(), received.Select(r => r.Id).Order());
        Assert.Null(Delivery.FirstStreamOutOfOrder(received));
        Assert.Single(cluster.Publishers);
    }

    [Fact]
    public async Task TheRelayHolderKilledUnderLoad_ThenARollingRestart_LosesNoEvent_AndEachStreamStaysInOrder_RepeatsCounted()
    {
        var (database, exchange) = (await postgres.CreateDatabaseAsync(), RabbitMqBroker.NewExchange());
        await using var queue = await BusQueue.DeclareAsync(broker.Url, exchange);
        await using var cluster = await StartAsync(database, exchange);
        await queue.StartAsync();
        var ids = await MixedWorkload.OpenAccountsAsync(cluster[0].Channel, 6);

        using var stop = new CancellationTokenSource();
        // Each writer stays on one server; a writer whose server is down waits for it (a load balancer's retry).
        var load = Task.WhenAll(Enumerable.Range(0, Servers).Select(i => WhileUpAsync(cluster, i, ids, stop.Token)));
        await queue.WaitUntilAsync(m => Task.FromResult(m.Count >= 50), Patience, "the bus publishes under load");

        // kill -9 of the server that publishes (the relay's lease holder): another takes the lease and its bus goes on.
        var holder = Assert.Single(cluster.Publishers);
        cluster[holder].Kill();
        await queue.WaitUntilAsync(_ => Task.FromResult(cluster.Publishers.Count == 1), Patience, "another server's bus takes over");
        await cluster[holder].RestartAsync();
        for (var i = 0; i < Servers; i++)
        {
            await cluster[i].TerminateAsync(TimeSpan.FromSeconds(20));
            await cluster[i].RestartAsync();
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        await stop.CancelAsync();
        await load;

        await using var store = await PostgresEventStore.OpenAsync(database, null, TestContext.Current.CancellationToken);
        var (stored, received) = await Delivery.EverythingAsync(store, queue, Patience);
        var repeats = received.Count - received.Select(r => r.Id).Distinct().Count();
        TestContext.Current.SendDiagnosticMessage($"{stored.Count} events stored, {received.Count} messages received, {repeats} repeats");
        Assert.Equal(stored.Select(e => e.EventId).Order(), received.Select(r => r.Id).Distinct().Order());
        Assert.Null(Delivery.FirstStreamOutOfOrder(received));
        // A repeat is what a holder had published and not yet checkpointed when it went: at most a few batches, never the history.
        Assert.True(repeats < stored.Count / 2, $"{repeats} repeats of {stored.Count} events");
    }

    [Fact]
    public async Task EventTypePrefixesNarrowedThenWidenedBetweenRestarts_GovernOnlyWhatTheBusHasNotPassed_WhatWasLeftOutNeverComes()
    {
        const string Deposits = "accounts.MoneyDeposited.";
        var exchange = RabbitMqBroker.NewExchange();
        await using var queue = await BusQueue.DeclareAsync(broker.Url, exchange);
        await using var host = await BankHost.StartEmbeddedAsync(
            ("Bus:RabbitMq:Url", broker.Url), ("Bus:RabbitMq:Exchange", exchange), ("Bus:RabbitMq:EventTypePrefixes:0", Deposits));
        await queue.StartAsync();
        var store = host.Get<IEventStore>();
        var ids = await MixedWorkload.OpenAccountsAsync(host.Channel, 3);
        await BusCaughtUpAsync(host);
        var narrowed = await MixedWorkload.StoredAsync(store);

        // Widened: every event from the checkpoint on, none of those the narrow filter passed over.
        await host.RestartAsync(("Bus:RabbitMq:EventTypePrefixes:0", ""));
        await DepositAndWithdrawAsync(host, ids);
        await BusCaughtUpAsync(host);
        var widened = (await MixedWorkload.StoredAsync(store)).Skip(narrowed.Count).ToList();
        // Narrowed again: only deposits, from its checkpoint on.
        await host.RestartAsync(("Bus:RabbitMq:EventTypePrefixes:0", Deposits));
        await DepositAndWithdrawAsync(host, ids);
        var head = await BusCaughtUpAsync(host);
        var narrowedAgain = (await MixedWorkload.StoredAsync(store)).Skip(narrowed.Count + widened.Count).ToList();

        List<RecordedEvent> expected = [.. narrowed.Where(Deposit), .. widened, .. narrowedAgain.Where(Deposit)];
        var received = await queue.WaitUntilAsync(m => Task.FromResult(m.Count >= expected.Count), Patience, "the published events arrive");
        await Task.Delay(TimeSpan.FromSeconds(1)); // and nothing more comes
        Assert.Equal(expected.Select(e => e.EventId), queue.Messages.Select(r => r.Id));
        Assert.Contains(narrowed, e => !Deposit(e));
        Assert.Contains(narrowedAgain, e => !Deposit(e));
        Assert.Equal(narrowed.Count + widened.Count + narrowedAgain.Count, head); // the checkpoint passed them all
        Assert.Equal(head, (await store.Outbox.CheckpointAsync(RabbitMqBusSink.SinkName, TestContext.Current.CancellationToken)));

        static bool Deposit(RecordedEvent e) => e.EventType.StartsWith(Deposits, StringComparison.Ordinal);
    }

    /// <summary>A deposit and a withdrawal on each account: commands whose events are all appended by the time they are answered.</summary>
    private static async Task DepositAndWithdrawAsync(BankHost host, string[] ids)
    {
        foreach (var id in ids)
        {
            await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 100, CurrencyCode = "EUR" });
            await host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 50, CurrencyCode = "EUR" });
        }
    }

    /// <summary>Waits until the bus's checkpoint is the head; returns it.</summary>
    private static async Task<long> BusCaughtUpAsync(BankHost host)
    {
        var admin = new ProjectionService.ProjectionServiceClient(host.Channel);
        var bus = await Eventually.Async(async () =>
            (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.Single(p => p.Name == RabbitMqBusSink.SinkName)
                is { LagEvents: 0, Position: > 0 } status ? status : null);
        return bus.Position;
    }

    private static async Task WhileUpAsync(BusCluster cluster, int server, string[] ids, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            if (!cluster[server].IsRunning)
            {
                await Task.Delay(50, CancellationToken.None);
                continue;
            }
            try
            {
                await MixedWorkload.RunAsync(cluster[server].Channel, ids, writers: 1, rounds: 6, stop);
            }
            catch (Exception) when (!stop.IsCancellationRequested)
            {
                // A command cut by the kill or the stop of its server (or its channel gone with it): whether it was
                // appended is the store's to say, and the spec compares the store with the queue. That acknowledged
                // commands survive is MultiServerSpecs' concern.
                await Task.Delay(50, CancellationToken.None);
            }
        }
    }

    private async Task<BusCluster> StartAsync(string database, string exchange) =>
        await BusCluster.StartAsync(Servers,
            ("ConnectionStrings:Postgres", database),
            ("ReadStore:Kind", "Postgres"),
            ("Bus:RabbitMq:Url", broker.Url),
            ("Bus:RabbitMq:Exchange", exchange));
}
