using Grpc.Net.Client;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using OrderStream = GrpcBank.Domain.Orders.Order;

namespace GrpcBank.Faults.Tests;

/// <summary>The read side after a relay that died between the sink write and the checkpoint, and after a read store outage.</summary>
public sealed class ReadSideRecoverySpecs
{
    [Fact]
    public async Task ARelayKilledBetweenTheSinkWriteAndTheCheckpoint_RedeliversAndTheReadSideEqualsAReplay()
    {
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("Relay:Enabled", "false"));
        var accounts = await WriteSomeAsync(host.Channel, 3);

        // What the relay does, up to the point where it would complete the outbox rows: the crash comes before that.
        var store = host.Get<IEventStore>();
        var batch = await store.Outbox.ReadPendingAsync("test", 500, TestContext.Current.CancellationToken);
        Assert.NotEmpty(batch.Events);
        await host.Get<ReadStoreSink>().HandleAsync(batch.Events, batch.Watermark, TestContext.Current.CancellationToken);
        Assert.Equal(batch.Events.Count, (await store.Outbox.ReadPendingAsync("test", 500, TestContext.Current.CancellationToken)).Events.Count);
        accounts = [.. accounts, .. await WriteSomeAsync(host.Channel, 2)];

        await host.RestartAsync(("Relay:Enabled", "true"));

        await ReadSide.AssertEqualsReplayAsync(host.Channel, accounts);
    }

    [Fact]
    public async Task WhileTheReadStoreIsUnreachable_CommandsSucceed_TheProjectionIsFailing_AndAfterwardsTheReadSideCatchesUp()
    {
        // Elasticsearch at a port where nothing listens: every read store call is refused.
        await using var host = await BankHost.StartAsync(
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("Elasticsearch:Url", "http://127.0.0.1:1"));
        var accounts = await WriteSomeAsync(host.Channel, 3);

        var projections = new ProjectionService.ProjectionServiceClient(host.Channel);
        var failing = await EventuallyAsync(async () =>
        {
            var status = await projections.GetProjectionStatusAsync(new GetProjectionStatusRequest());
            return status.Projections.Single(p => p.Name == ReadStoreSink.SinkName) is { State: ProjectionState.Failing } read ? read : null;
        });
        Assert.NotEmpty(failing.LastError);
        Assert.True(failing.LagEvents > 0);
        accounts = [.. accounts, .. await WriteSomeAsync(host.Channel, 2)];

        await host.RestartAsync(("Elasticsearch:Url", "")); // the outage ends: the embedded read store

        await ReadSide.AssertEqualsReplayAsync(host.Channel, accounts);
        var after = await new ProjectionService.ProjectionServiceClient(host.Channel).GetProjectionStatusAsync(new GetProjectionStatusRequest());
        Assert.All(after.Projections, p => Assert.Equal((ProjectionState.Running, ""), (p.State, p.LastError)));
    }

    [Fact]
    public async Task WhileTheReadStoreIsUnreachableFor10s_OrdersStillGetPaid_AndTheReadSideCatchesUpAfterwards_NothingLostOrDoubled()
    {
        await using var host = await BankHost.StartAsync(
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("Elasticsearch:Url", "http://127.0.0.1:1"));
        var ct = TestContext.Current.CancellationToken;
        var accounts = new AccountService.AccountServiceClient(host.Channel);
        var orders = new OrderService.OrderServiceClient(host.Channel);
        var payments = new PaymentService.PaymentServiceClient(host.Channel);
        string customer = Guid.NewGuid().ToString("N")[..16], merchant = Guid.NewGuid().ToString("N")[..16];
        foreach (var id in new[] { customer, merchant })
            await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Owner {id}", CurrencyCode = "EUR" });
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = customer, AmountMinor = 10_000_000, CurrencyCode = "EUR" });

        // Ten seconds of orders and transfers while every read store call is refused.
        var placed = new List<PlaceOrderResponse>();
        var transfers = 0;
        var until = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < until)
        {
            var order = await orders.PlaceOrderAsync(new PlaceOrderRequest
            {
                CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 100, CurrencyCode = "EUR",
            }, cancellationToken: ct);
            await orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId }, cancellationToken: ct);
            placed.Add(order);
            await payments.TransferMoneyAsync(new TransferMoneyRequest
            {
                FromAccountId = customer, ToAccountId = merchant, AmountMinor = 10, CurrencyCode = "EUR",
            }, cancellationToken: ct);
            transfers++;
        }

        // The write side never waits on the read side: every order is authorised and paid, exactly once, with the read side down.
        var store = host.Get<IEventStore>();
        await EventuallyAsync(async () =>
        {
            foreach (var order in placed)
                if ((await store.ReadStreamAsync(OrderStream.StreamId(order.OrderId), 1, 10, ct)).All(e => e.EventType != "orders.OrderPaid.v1")) return null;
            return placed;
        }, seconds: 60);
        foreach (var order in placed)
            Assert.Single(await store.ReadStreamAsync(OrderStream.StreamId(order.OrderId), 1, 10, ct), e => e.EventType == "orders.OrderPaid.v1");
        var status = await new ProjectionService.ProjectionServiceClient(host.Channel).GetProjectionStatusAsync(new GetProjectionStatusRequest());
        var readSide = status.Projections.Single(p => p.Name == ReadStoreSink.SinkName);
        Assert.Equal(ProjectionState.Failing, readSide.State);
        Assert.True(readSide.LagEvents > 0, "the read side is behind while its store is down");

        await host.RestartAsync(("Elasticsearch:Url", "")); // the outage ends

        // Nothing lost or doubled: the read side equals a replay, every order reads as paid, the balances add up.
        await ReadSide.AssertEqualsReplayAsync(host.Channel, [customer, merchant]);
        var query = new QueryService.QueryServiceClient(host.Channel);
        var head = await ReadSide.HeadAsync(host.Channel);
        foreach (var order in placed)
            Assert.Equal(OrderStatus.Paid, (await query.GetOrderAsync(new GetOrderRequest { OrderId = order.OrderId, MinPosition = head })).Order.Status);
        var paidOut = placed.Count * 100L + transfers * 10L;
        Assert.Equal(10_000_000 - paidOut, (await query.GetAccountAsync(new GetAccountRequest { AccountId = customer, MinPosition = head })).Account.BalanceMinor);
        Assert.Equal(paidOut, (await query.GetAccountAsync(new GetAccountRequest { AccountId = merchant, MinPosition = head })).Account.BalanceMinor);
    }

    /// <summary>Opens accounts and moves money on them; returns their ids.</summary>
    public static async Task<string[]> WriteSomeAsync(GrpcChannel channel, int count)
    {
        var client = new AccountService.AccountServiceClient(channel);
        var ids = Enumerable.Range(0, count).Select(_ => Guid.NewGuid().ToString("N")[..16]).ToArray();
        foreach (var id in ids)
        {
            await client.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Owner {id}", CurrencyCode = "EUR" });
            await client.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 10_000, CurrencyCode = "EUR" });
            await client.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 2_500, CurrencyCode = "EUR" });
        }
        await client.FreezeAccountAsync(new FreezeAccountRequest { AccountId = ids[0], Reason = "fault test" });
        return ids;
    }

    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, int seconds = 20) where T : class
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > until) throw new TimeoutException($"not within {seconds} s");
            await Task.Delay(100);
        }
    }
}
