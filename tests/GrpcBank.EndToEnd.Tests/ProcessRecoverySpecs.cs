using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using DomainOrders = GrpcBank.Domain.Orders;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// The payment process killed between any two steps: the relay is driven by hand, one event at a time,
/// and the server is restarted at every cut point — after a sink ran but before the outbox row was
/// completed (so the event is redelivered), and after it was completed. Every run must complete exactly once:
/// an order's atomic money step (for orders placed before holds; an order authorised by a hold is paid by FulfillOrder,
/// one command, with no process step), and a saga payment the upgrade caught in flight.
/// </summary>
public abstract class ProcessRecoverySpecs
{
    protected abstract Task<BankHost> StartHostAsync(params (string Key, string Value)[] settings);

    /// <summary>
    /// Every cut from the third delivery to the last one before the run settles (after <paramref name="settlesAfter"/>
    /// deliveries): a cut beyond that crossed no crash, and its case passed as a run without one.
    /// </summary>
    public static TheoryData<int, bool> Cuts(int settlesAfter)
    {
        var cuts = new TheoryData<int, bool>();
        // The first events are the set-up (accounts opened, funded); the process starts after them.
        foreach (var cut in Enumerable.Range(2, settlesAfter - 2))
        {
            cuts.Add(cut, true);
            cuts.Add(cut, false);
        }
        return cuts;
    }

    [Theory]
    [MemberData(nameof(Cuts), 5)]
    public async Task AnOrderPaidAcrossACrash_IsPaidExactlyOnce(int cut, bool beforeCompleting)
    {
        await using var host = await StartHostAsync(("Relay:Enabled", "false"));
        var bank = new Bank(host);
        var customer = await bank.OpenAsync(deposit: 10_000);
        var merchant = await bank.OpenAsync();
        var placed = await PlacedBeforeHoldsAsync(host, customer, merchant, 2_500);

        await PumpWithCrashAsync(host, cut, beforeCompleting, () => IsSettledAsync(bank, placed.OrderId));

        var order = (await bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId })).Order;
        Assert.Equal(OrderStatus.Paid, order.Status);
        Assert.Equal(7_500, (await bank.AccountAsync(customer)).BalanceMinor);
        Assert.Equal(2_500, (await bank.AccountAsync(merchant)).BalanceMinor);
        Assert.Equal(1, await CountAsync(host, $"account-{customer}", "accounts.PaymentDebited.v2"));
        Assert.Equal(1, await CountAsync(host, $"account-{merchant}", "accounts.PaymentCredited.v2"));
        Assert.Equal(["payments.PaymentInitiated.v2", "payments.PaymentCompleted.v2"], await TypesAsync(host, $"payment-{placed.PaymentId}"));
    }

    [Theory]
    [MemberData(nameof(Cuts), 6)]
    public async Task ARefusedOrderAcrossACrash_IsCancelledOnce_AndNoMoneyMoves(int cut, bool beforeCompleting)
    {
        await using var host = await StartHostAsync(("Relay:Enabled", "false"));
        var bank = new Bank(host);
        var customer = await bank.OpenAsync(deposit: 10_000);
        var merchant = await bank.OpenAsync();
        await bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = merchant });
        var placed = await PlacedBeforeHoldsAsync(host, customer, merchant, 2_500);

        await PumpWithCrashAsync(host, cut, beforeCompleting, () => IsSettledAsync(bank, placed.OrderId));

        var order = (await bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId })).Order;
        Assert.Equal((OrderStatus.Cancelled, "ACCOUNT_CLOSED"), (order.Status, order.CancellationReason));
        Assert.Equal(10_000, (await bank.AccountAsync(customer)).BalanceMinor);
        Assert.Equal(0, await CountAsync(host, $"account-{customer}", "accounts.PaymentDebited.v2"));
        Assert.Equal(["payments.PaymentInitiated.v2", "payments.PaymentFailed.v2"], await TypesAsync(host, $"payment-{placed.PaymentId}"));
    }

    [Fact]
    public async Task AnOrderPlacedBeforeHolds_CancelledBeforeItsPaymentStep_IsCancelledAlone_AndNoMoneyMoves()
    {
        await using var host = await StartHostAsync(("Relay:Enabled", "false"));
        var bank = new Bank(host);
        var customer = await bank.OpenAsync(deposit: 10_000);
        var merchant = await bank.OpenAsync();
        var placed = await PlacedBeforeHoldsAsync(host, customer, merchant, 2_500);

        // Today's CancelOrder on yesterday's order: no hold to release, the order cancelled alone, as it always was.
        await bank.Orders.CancelOrderAsync(new Contracts.Orders.V1.CancelOrderRequest { OrderId = placed.OrderId, Reason = "changed my mind" });
        await PumpWithCrashAsync(host, cut: -1, beforeCompleting: false, () => IsSettledAsync(bank, placed.OrderId));

        var order = (await bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId })).Order;
        Assert.Equal((OrderStatus.Cancelled, "changed my mind"), (order.Status, order.CancellationReason));
        Assert.Equal(["orders.OrderPlaced.v1", "orders.OrderCancelled.v1"], await TypesAsync(host, $"order-{placed.OrderId}"));
        Assert.Empty(await TypesAsync(host, $"payment-{placed.PaymentId}"));
        Assert.Equal(10_000, (await bank.AccountAsync(customer)).BalanceMinor);
    }

    [Theory]
    [MemberData(nameof(Cuts), 8)]
    public async Task ASagaPaymentInFlightAtTheUpgrade_CompletesExactlyOnce_AcrossACrash(int cut, bool beforeCompleting)
    {
        await using var host = await StartHostAsync(("Relay:Enabled", "false"));
        var bank = new Bank(host);
        var payer = await bank.OpenAsync(deposit: 10_000);
        var payee = await bank.OpenAsync();
        var paymentId = await SagaPaymentInFlightAsync(host, payer, payee, 2_500);

        await PumpWithCrashAsync(host, cut, beforeCompleting, async () =>
            (await TypesAsync(host, $"payment-{paymentId}"))[^1] == "payments.PaymentCompleted.v2");

        Assert.Equal(7_500, (await bank.AccountAsync(payer)).BalanceMinor);
        Assert.Equal(2_500, (await bank.AccountAsync(payee)).BalanceMinor);
        Assert.Equal(1, await CountAsync(host, $"account-{payer}", "accounts.PaymentDebited.v2"));
        Assert.Equal(1, await CountAsync(host, $"account-{payee}", "accounts.PaymentCredited.v2"));
        Assert.Equal(["payments.PaymentInitiated.v1", "payments.PayerDebited.v1", "payments.PaymentCompleted.v2"],
            await TypesAsync(host, $"payment-{paymentId}"));
    }

    /// <summary>
    /// Delivers the outbox one event at a time until the order is settled and nothing is pending; at step
    /// <paramref name="cut"/> the server dies and restarts. (An empty read is not proof of an empty outbox on
    /// PostgreSQL: rows stay hidden while any older transaction in the cluster is open, another test's too. So the run
    /// has settled only once every stored event has been delivered: its last step read straight from a stream, while
    /// the outbox still hid it, ended a run a delivery early, short of its cut.)
    /// </summary>
    internal static async Task PumpWithCrashAsync(BankHost host, int cut, bool beforeCompleting, Func<Task<bool>> settled)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        var delivered = 0L;
        for (var step = 0; DateTime.UtcNow < until;)
        {
            var store = host.Get<IEventStore>();
            var batch = await store.Outbox.ReadPendingAsync("test", 1, CancellationToken.None);
            if (batch.Events.Count == 0)
            {
                if (delivered == await store.HeadPositionAsync(CancellationToken.None) && await settled())
                {
                    // A case whose process settles before its cut crosses no crash: it would pass as a run without one.
                    Assert.True(cut < 0 || step > cut, $"settled after {step} steps, before the crash at step {cut}");
                    return;
                }
                await Task.Delay(20);
                continue;
            }
            foreach (var sink in host.Services.GetServices<IEventSink>())
                await sink.HandleAsync(batch.Events, batch.Watermark, CancellationToken.None);
            delivered = Math.Max(delivered, batch.Events[^1].Position);
            if (step == cut && beforeCompleting)
            {
                step++;
                await host.RestartAsync();
                continue;
            }
            await store.Outbox.CompleteAsync("test", batch, CancellationToken.None);
            if (step++ == cut) await host.RestartAsync();
        }
        Assert.Fail("the payment process did not come to rest within 20 s");
    }

    /// <summary>What the saga release's TransferMoney stored before answering; its process had not taken a step yet.</summary>
    internal static async Task<string> SagaPaymentInFlightAsync(BankHost host, string payer, string payee, long amountMinor)
    {
        var paymentId = Guid.NewGuid().ToString("N");
        await host.Get<IEventStore>().AppendAsync(new AppendRequest($"payment-{paymentId}", 0,
            [new EventData(Guid.NewGuid(), "payments.PaymentInitiated.v1",
                $$"""{"paymentId":"{{paymentId}}","orderId":"","fromAccountId":"{{payer}}","toAccountId":"{{payee}}","amountMinor":{{amountMinor}},"currencyCode":"EUR","reference":"rent"}""",
                "{}")], null, DateTimeOffset.UtcNow), CancellationToken.None);
        return paymentId;
    }

    /// <summary>
    /// An order as the release before holds stored it (orders.OrderPlaced.v1, which the payment process pays): PlaceOrder
    /// now authorises with a hold instead, and such orders are still in stores, their payment still to be carried out.
    /// </summary>
    private static async Task<(string OrderId, string PaymentId)> PlacedBeforeHoldsAsync(BankHost host, string customer, string merchant, long amountMinor)
    {
        var orderId = Guid.NewGuid().ToString("N");
        var (type, json) = EventCodecs.Orders.Encode(new DomainOrders.OrderEvent.OrderPlaced(orderId, customer, merchant, amountMinor, "EUR", "books",
            DomainOrders.Order.PaymentIdOf(orderId)));
        await host.Get<IEventStore>().AppendAsync(new AppendRequest(DomainOrders.Order.StreamId(orderId), 0,
            [new EventData(Guid.NewGuid(), type, json, "{}")], null, DateTimeOffset.UtcNow), CancellationToken.None);
        return (orderId, DomainOrders.Order.PaymentIdOf(orderId));
    }

    private static async Task<bool> IsSettledAsync(Bank bank, string orderId)
    {
        try
        {
            return (await bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = orderId })).Order.Status != OrderStatus.Placed;
        }
        catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            return false;
        }
    }

    private static async Task<int> CountAsync(BankHost host, string streamId, string eventType) =>
        (await TypesAsync(host, streamId)).Count(t => t == eventType);

    internal static async Task<IReadOnlyList<string>> TypesAsync(BankHost host, string streamId) =>
        (await host.Get<IEventStore>().ReadStreamAsync(streamId, 1, 1_000, CancellationToken.None)).Select(e => e.EventType).ToList();
}
