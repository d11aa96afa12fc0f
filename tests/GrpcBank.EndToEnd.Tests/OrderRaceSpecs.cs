using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// An authorised order's endings racing each other through real gRPC clients: FulfillOrder, CancelOrder and the bank's
/// own expiry of the order's hold (the clock moved past it while the others run), many rounds over, on customers opened
/// now and on customers whose history was stored before holds existed. Whatever wins, the order ends once: paid with its
/// hold captured, or cancelled with its hold released or expired; money is conserved; nothing stays held; every loser
/// hears its documented refusal; every retry of a request id hears its first answer; and the write side, GetOrder,
/// GetPayment, ListHolds and the balances agree once the bank is quiet.
/// </summary>
public abstract class OrderRaceSpecs : ClockedBankSpecs
{
    /// <summary>The server's log: an answer the bank gives as a fault of its own logs an error.</summary>
    protected CapturedLogs Logs { get; } = new();

    protected void Configure(WebApplicationBuilder builder)
    {
        WithClock(builder);
        builder.Logging.AddProvider(Logs);
    }

    /// <summary>The server the cancellations go to, whose own expiry runs too: this one, or another on the same database.</summary>
    protected virtual BankHost Other => Host;

    private const int Rounds = 12;

    private const long Deposit = 1_000_000;

    private const long Amount = 100;

    private const string CustomersReason = "changed my mind";

    private const string AuthorizationExpired = "AUTHORIZATION_EXPIRED";

    private static readonly TimeSpan Ttl = TimeSpan.FromHours(1);

    /// <summary>A reply, or the status the call failed with: each race judges every answer.</summary>
    private sealed record Answer(string Call, Func<Task<IMessage>> Send, IMessage? Reply, RpcException? Error)
    {
        public bool Ok => Reply is not null;
        public string Reason => Error?.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason ?? "";
        public override string ToString() => $"{Call}: " + (Ok ? Reply!.ToString() : $"{Error!.StatusCode} {Reason}: {Error.Status.Detail}");
    }

    private static async Task<Answer> SendAsync(string call, Func<Task<IMessage>> send)
    {
        try
        {
            return new Answer(call, send, await send(), null);
        }
        catch (RpcException e)
        {
            return new Answer(call, send, null, e);
        }
    }

    /// <summary>The refusals each call may lose a race with, as the proto documents them.</summary>
    private static readonly Dictionary<string, string[]> Refusals = new()
    {
        ["fulfil"] = ["HOLD_NOT_ACTIVE", "ORDER_NOT_PAYABLE"],
        ["cancel"] = ["ORDER_NOT_CANCELLABLE"],
    };

    [Theory]
    [InlineData("cancel,expiry", false)]
    [InlineData("fulfil,expiry", false)]
    [InlineData("fulfil,cancel", false)]
    [InlineData("fulfil,cancel,expiry", false)]
    [InlineData("cancel,expiry", true)]
    [InlineData("fulfil,expiry", true)]
    [InlineData("fulfil,cancel,expiry", true)]
    [InlineData("fulfil,cancel,expiry", false, true)]
    [InlineData("fulfil,cancel,expiry", true, true)]
    public async Task AnOrdersEndings_RacingEachOther_EndItOnce_ConserveMoney_HoldNothing_AndEveryAnswerAgreesWithTheBank(
        string race, bool customerPredatesHolds, bool restartedBeforeTheRace = false)
    {
        var calls = race.Split(',');
        var customer = customerPredatesHolds ? await OpenedBeforeHoldsAsync(Deposit) : await Bank.OpenAsync(deposit: Deposit);
        var merchant = await Bank.OpenAsync();
        var paid = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var placement = Placement(customer, merchant);
            var placed = await Bank.Orders.PlaceOrderAsync(placement);
            Assert.True(placed.Authorized, placed.ToString());
            // The read side lists the hold, so the bank's expiry finds it once it is due.
            await Bank.AccountAsync(customer, placed.Position);
            // Without a fulfilment in the race the hold is due before it starts; with one, time passes while it runs.
            if (!calls.Contains("fulfil")) Clock.Advance(Ttl);
            // A restarted server races on states it has never seen: the order, both accounts, the hold.
            if (restartedBeforeTheRace) await Host.RestartAsync();

            var answers = await RaceAsync(calls, placed.OrderId);
            var order = await EndedAsync(placed.OrderId);

            var fulfilled = answers.Where(a => a.Call == "fulfil").ToList();
            Assert.All(answers, a => Assert.True(a.Ok || (a.Error!.StatusCode == StatusCode.FailedPrecondition && Refusals[a.Call].Contains(a.Reason)),
                string.Join(" | ", answers)));
            var wasPaid = fulfilled.Any(a => a.Ok);
            if (wasPaid) paid++;
            var holdEnded = Assert.Single(await EventsAsync($"account-{customer}"),
                e => e.DataJson.Contains($"\"{placed.HoldId}\"", StringComparison.Ordinal) && e.EventType != "accounts.HoldPlaced.v1");
            var ending = holdEnded.EventType;
            var orderEvents = await EventsAsync($"order-{placed.OrderId}");
            Assert.Equal(["orders.OrderAuthorized.v1", wasPaid ? "orders.OrderPaid.v1" : "orders.OrderCancelled.v1"], orderEvents.Select(e => e.EventType));
            // The order never ends while its hold is still active: the hold ends first, or in the same commit.
            Assert.True(holdEnded.Position < orderEvents[^1].Position, $"{ending} at {holdEnded.Position}, the order ended at {orderEvents[^1].Position}");
            Assert.Equal(wasPaid ? OrderStatus.Paid : OrderStatus.Cancelled, order.Status);
            Assert.Equal(wasPaid, ending == "accounts.HoldCaptured.v1");
            // A cancellation that released the hold is the customer's; the bank's expiry cancels for the lapsed
            // authorisation, unless the customer's cancellation came between the expiry and the order process.
            if (ending == "accounts.HoldReleased.v1") Assert.Equal(CustomersReason, order.CancellationReason);
            if (ending == "accounts.HoldExpired.v1")
                Assert.Contains(order.CancellationReason, calls.Contains("cancel") ? new[] { CustomersReason, AuthorizationExpired } : [AuthorizationExpired]);
            if (!wasPaid) Assert.All(answers.Where(a => a.Call == "cancel"), a => Assert.True(a.Ok, a.ToString()));
            await AgreesWithTheReadSideAsync(customer, placed, order, wasPaid, ending);
            await RetriesHearTheirFirstAnswerAsync(answers);
            Assert.Equal(placed, await Bank.Orders.PlaceOrderAsync(placement));
        }

        await ConservedAndNothingHeldAsync(customer, merchant, paid);
    }

    [Fact]
    public async Task ManyOrdersOfOneCustomer_FulfilledAndCancelledAtOnce_WhileHalfOfThemExpire_EachEndOnce_AndTheAccountHoldsNothing()
    {
        const int Orders = 30;
        var customer = await Bank.OpenAsync(deposit: Deposit);
        var merchant = await Bank.OpenAsync();
        var due = await Task.WhenAll(Enumerable.Range(0, Orders / 2).Select(_ => Bank.Orders.PlaceOrderAsync(Placement(customer, merchant)).ResponseAsync));
        Clock.Advance(Ttl / 2);
        var good = await Task.WhenAll(Enumerable.Range(0, Orders / 2).Select(_ => Bank.Orders.PlaceOrderAsync(Placement(customer, merchant)).ResponseAsync));
        await Bank.AccountAsync(customer, good.Max(p => p.Position));
        Clock.Advance(Ttl / 2);

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = due.Concat(good).SelectMany(placed => new[] { "fulfil", "cancel" }.Select(call => (placed.OrderId, call, send: Send(call, placed.OrderId, NewId()))))
            .SelectMany(c => new[] { c, c }).Select(c => Task.Run(async () =>
            {
                await start.Task;
                return (c.OrderId, Answer: await SendAsync(c.call, c.send));
            })).ToList();
        var expiring = Task.Run(async () =>
        {
            await start.Task;
            await ExpireDueAsync();
        });
        start.SetResult();
        await expiring;
        var answers = (await Task.WhenAll(running)).ToLookup(a => a.OrderId, a => a.Answer);

        var paid = 0;
        foreach (var placed in due.Concat(good))
        {
            var order = await EndedAsync(placed.OrderId);
            var those = answers[placed.OrderId].ToList();
            Assert.All(those, a => Assert.True(a.Ok || (a.Error!.StatusCode == StatusCode.FailedPrecondition && Refusals[a.Call].Contains(a.Reason)),
                string.Join(" | ", those)));
            var wasPaid = those.Any(a => a.Call == "fulfil" && a.Ok);
            Assert.Equal(wasPaid ? OrderStatus.Paid : OrderStatus.Cancelled, order.Status);
            Assert.Equal(!wasPaid, those.Where(a => a.Call == "cancel").All(a => a.Ok));
            if (due.Contains(placed)) Assert.False(wasPaid, string.Join(" | ", those));
            if (wasPaid) paid++;
            await RetriesHearTheirFirstAnswerAsync(those);
        }
        await ConservedAndNothingHeldAsync(customer, merchant, paid);
    }

    [Fact]
    public async Task APlacementSentFourTimesAtOnce_WithOneRequestIdAndNoOrderId_PlacesOneOrder_HoldsOnce_AndAnswersAllAlike()
    {
        var customer = await Bank.OpenAsync(deposit: Deposit);
        var merchant = await Bank.OpenAsync();
        for (var round = 0; round < Rounds; round++)
        {
            var placement = Placement(customer, merchant);
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sending = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                await start.Task;
                return await Bank.Orders.PlaceOrderAsync(placement);
            })).ToList();
            start.SetResult();
            var answers = await Task.WhenAll(sending);

            Assert.All(answers, a => Assert.Equal(answers[0], a));
            Assert.True(answers[0].Authorized, answers[0].ToString());
        }
        var head = await QuietHead.OfAsync(Host);
        Assert.Equal(Rounds * Amount, (await Bank.AccountAsync(customer, head)).HeldMinor);
        Assert.Equal(Rounds, (await EventsAsync($"account-{customer}")).Count(e => e.EventType == "accounts.HoldPlaced.v1"));
        // The copies that lost drew order ids of their own: none of them was recorded, not even as declined.
        Assert.Equal(Rounds, (await Bank.Query.SearchOrdersAsync(new SearchOrdersRequest { CustomerAccountId = customer, PageSize = 100, MinPosition = head })).TotalSize);
    }

    [Fact]
    public async Task AFreezeOfTheCustomer_RacingTheFulfilment_EitherComesAfterThePayment_OrRefusesItWithAccountFrozen_AndTheOrderCanStillBeCancelled()
    {
        var customer = await Bank.OpenAsync(deposit: Deposit);
        var merchant = await Bank.OpenAsync();
        var paid = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var placed = await Bank.Orders.PlaceOrderAsync(Placement(customer, merchant));
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var fulfilling = Task.Run(async () => { await start.Task; return await SendAsync("fulfil", Send("fulfil", placed.OrderId, NewId())); });
            var freezing = Task.Run(async () =>
            {
                await start.Task;
                return await Bank.Accounts.FreezeAccountAsync(new Contracts.Accounts.V1.FreezeAccountRequest { AccountId = customer });
            });
            start.SetResult();
            var frozen = await freezing;
            var fulfilled = await fulfilling;

            if (fulfilled.Ok)
            {
                Assert.True(((FulfillOrderResponse)fulfilled.Reply!).Position < frozen.Position, $"paid from a frozen account: {fulfilled}, frozen at {frozen.Position}");
                paid++;
            }
            else
            {
                // Money may not leave a frozen account, not even the money its order holds; the order waits, still authorised.
                Assert.Equal("ACCOUNT_FROZEN", fulfilled.Reason);
                var cancelled = await Bank.Orders.CancelOrderAsync(new CancelOrderRequest { OrderId = placed.OrderId, Reason = CustomersReason });
                Assert.Equal(OrderStatus.Cancelled, (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId, MinPosition = cancelled.Position })).Order.Status);
            }
            await Bank.Accounts.UnfreezeAccountAsync(new Contracts.Accounts.V1.UnfreezeAccountRequest { AccountId = customer });
        }
        await ConservedAndNothingHeldAsync(customer, merchant, paid);
    }

    [Fact]
    public async Task AnOrderPlacedBeforeHolds_CancelledWhileThePaymentProcessPaysIt_EndsOnce_AndCannotBeFulfilled()
    {
        var customer = await Bank.OpenAsync(deposit: Deposit);
        var merchant = await Bank.OpenAsync();
        var paid = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var orderId = NewId();
            // The payment process pays the order as soon as the relay brings it; the customer's cancellation races it.
            await PlacedBeforeHoldsAsync(orderId, customer, merchant);
            var answers = await RaceAsync(["fulfil", "cancel"], orderId);
            var order = await Bank.EventuallyAsync(async () =>
            {
                var head = await QuietHead.OfAsync(Host);
                var o = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = orderId, MinPosition = head })).Order;
                return o.Status == OrderStatus.Placed ? null : o;
            });

            Assert.All(answers.Where(a => a.Call == "fulfil"), a => Assert.Equal("ORDER_NOT_PAYABLE", a.Reason));
            var wasPaid = order.Status == OrderStatus.Paid;
            if (wasPaid) paid++;
            Assert.All(answers.Where(a => a.Call == "cancel"), a => Assert.True(wasPaid ? a.Reason == "ORDER_NOT_CANCELLABLE" : a.Ok, string.Join(" | ", answers)));
            Assert.Equal(wasPaid ? OrderStatus.Paid : OrderStatus.Cancelled, order.Status);
            Assert.Equal(
                wasPaid ? ["payments.PaymentInitiated.v2", "payments.PaymentCompleted.v2"] : [],
                (await EventsAsync($"payment-order-{orderId}")).Select(e => e.EventType));
            await RetriesHearTheirFirstAnswerAsync(answers);
        }
        await ConservedAndNothingHeldAsync(customer, merchant, paid);
    }

    /// <summary>An order as the release before holds stored it: the payment process pays it as soon as the relay brings it.</summary>
    private async Task PlacedBeforeHoldsAsync(string orderId, string customer, string merchant) =>
        Assert.IsType<AppendResult.Appended>(await Host.Get<IEventStore>().AppendAsync(new AppendRequest($"order-{orderId}", 0,
            [new EventData(Guid.NewGuid(), "orders.OrderPlaced.v1",
                $$"""{"orderId":"{{orderId}}","customerAccountId":"{{customer}}","merchantAccountId":"{{merchant}}","amountMinor":{{Amount}},"currencyCode":"EUR","description":"a lamp","paymentId":"order-{{orderId}}"}""",
                "{}")],
            null, Clock.GetUtcNow()), CancellationToken.None));

    /// <summary>An order of <see cref="Amount"/>, authorised for <see cref="Ttl"/>, under a request id of its own.</summary>
    private static PlaceOrderRequest Placement(string customer, string merchant) => new()
    {
        CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = Amount, CurrencyCode = "EUR", Description = "a lamp",
        AuthorizationTtl = Duration.FromTimeSpan(Ttl), RequestId = NewId(),
    };

    /// <summary>Once the bank is quiet: the paid orders' money moved from the customer to the merchant, no more, and nothing is held.</summary>
    private async Task ConservedAndNothingHeldAsync(string customer, string merchant, int paid)
    {
        var head = await QuietHead.OfAsync(Host);
        var (customerNow, merchantNow) = (await Bank.AccountAsync(customer, head), await Bank.AccountAsync(merchant, head));
        Assert.Equal((Deposit - paid * Amount, 0L, paid * Amount), (customerNow.BalanceMinor, customerNow.HeldMinor, merchantNow.BalanceMinor));
        Assert.DoesNotContain(
            (await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = customer, PageSize = 100, MinPosition = head })).Holds,
            h => h.Status == HoldStatus.Active);
        Assert.DoesNotContain(Logs.Lines, line => line.StartsWith("Error ", StringComparison.Ordinal));
    }

    private Func<Task<IMessage>> Send(string call, string orderId, string requestId) => call == "fulfil"
        ? async () => await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = orderId, RequestId = requestId })
        : async () => await new OrderService.OrderServiceClient(Other.Channel)
            .CancelOrderAsync(new CancelOrderRequest { OrderId = orderId, Reason = CustomersReason, RequestId = requestId });

    /// <summary>The bank's expiry, on every server at once.</summary>
    private Task ExpireDueAsync() => Task.WhenAll(new[] { Host, Other }.Distinct().Select(h => h.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None)));

    /// <summary>The calls of one race, released together; "expiry" moves the clock past the hold (if nobody did) and runs the bank's expiry.</summary>
    private async Task<Answer[]> RaceAsync(string[] calls, string orderId)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Each call is sent twice with its request id, as by a client retrying while its first try is still under way.
        var running = calls.Where(c => c != "expiry").Select(call => (call, send: Send(call, orderId, NewId())))
            .SelectMany(c => new[] { c, c }).Select(c => Task.Run(async () =>
            {
                await start.Task;
                return await SendAsync(c.call, c.send);
            })).ToList();
        var expiring = Task.Run(async () =>
        {
            await start.Task;
            if (!calls.Contains("expiry")) return;
            // Time runs out at a random moment of the fulfilment's way through the server, so either may come first.
            await Task.Delay(Random.Shared.Next(0, 3));
            if (calls.Contains("fulfil")) Clock.Advance(Ttl);
            await ExpireDueAsync();
        });
        start.SetResult();
        await expiring;
        return await Task.WhenAll(running);
    }

    /// <summary>The order once it is no longer authorised: an expired hold cancels it through the order process, a little later.</summary>
    private Task<Contracts.Query.V1.Order> EndedAsync(string orderId) => Bank.EventuallyAsync(async () =>
    {
        await ExpireDueAsync();
        var head = await QuietHead.OfAsync(Host);
        var order = (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = orderId, MinPosition = head })).Order;
        return order.Status == OrderStatus.Authorized ? null : order;
    });

    private async Task AgreesWithTheReadSideAsync(string customer, PlaceOrderResponse placed, Contracts.Query.V1.Order order, bool wasPaid, string ending)
    {
        var head = await QuietHead.OfAsync(Host);
        var hold = Assert.Single((await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = customer, PageSize = 100, MinPosition = head })).Holds,
            h => h.HoldId == placed.HoldId);
        Assert.Equal(ending switch
        {
            "accounts.HoldCaptured.v1" => HoldStatus.Captured,
            "accounts.HoldReleased.v1" => HoldStatus.Released,
            _ => HoldStatus.Expired,
        }, hold.Status);
        Assert.Equal(order, (await Bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId, MinPosition = head })).Order);
        if (wasPaid)
        {
            var payment = (await Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = placed.PaymentId, MinPosition = head })).Payment;
            Assert.Equal((Contracts.Query.V1.PaymentStatus.Completed, placed.OrderId, Amount), (payment.Status, payment.OrderId, payment.AmountMinor));
        }
        else
        {
            await Fails(StatusCode.NotFound, () => Bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = placed.PaymentId, MinPosition = head }).ResponseAsync);
            Assert.Empty(await EventsAsync($"payment-{placed.PaymentId}"));
        }
    }

    /// <summary>
    /// Every acceptance of a request id is the same reply, and so is the retry of an accepted call; a refused one wrote
    /// nothing, so its retry is decided again: refused as documented, or the reply its twin was accepted with.
    /// </summary>
    private static async Task RetriesHearTheirFirstAnswerAsync(IReadOnlyCollection<Answer> answers)
    {
        foreach (var twins in answers.GroupBy(a => a.Send))
            Assert.True(twins.Where(a => a.Ok).Select(a => a.Reply).Distinct().Count() <= 1, string.Join(" | ", twins));
        foreach (var first in answers)
        {
            var retried = await SendAsync(first.Call, first.Send);
            var twin = answers.FirstOrDefault(a => a.Send == first.Send && a.Ok);
            if (twin is not null) Assert.Equal(twin.Reply, retried.Reply);
            else Assert.True(retried.Error?.StatusCode == StatusCode.FailedPrecondition && Refusals[first.Call].Contains(retried.Reason), $"{first} then {retried}");
        }
    }

    /// <summary>
    /// An account opened and funded by the first release, as it stored it (its event names and shapes from
    /// tests/fixtures/history-v1): its history knows nothing of holds.
    /// </summary>
    private async Task<string> OpenedBeforeHoldsAsync(long deposit)
    {
        var accountId = NewId();
        var appended = await Host.Get<IEventStore>().AppendAsync(new AppendRequest($"account-{accountId}", 0,
            [
                new EventData(Guid.NewGuid(), "accounts.AccountOpened.v1",
                    $$"""{"accountId":"{{accountId}}","ownerName":"Ada Lovelace","currencyCode":"EUR"}""", "{}"),
                new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1",
                    $$"""{"accountId":"{{accountId}}","amountMinor":{{deposit}},"currencyCode":"EUR","reference":"salary"}""", "{}"),
            ], null, Clock.GetUtcNow()), CancellationToken.None);
        await Bank.AccountAsync(accountId, Assert.IsType<AppendResult.Appended>(appended).Position);
        return accountId;
    }

    private async Task<IReadOnlyList<RecordedEvent>> EventsAsync(string streamId) =>
        await Host.Get<IEventStore>().ReadStreamAsync(streamId, 1, 10_000, CancellationToken.None);
}

public sealed class EmbeddedOrderRaceSpecs : OrderRaceSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(Configure);
}

public sealed class PostgresOrderRaceSpecs(PostgresServer postgres) : OrderRaceSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), Configure);
}

/// <summary>Two servers on one PostgreSQL database: each race's cancellations go to the second, fulfilments to the first, and both expire holds.</summary>
public sealed class PostgresTwoServerOrderRaceSpecs(PostgresServer postgres) : OrderRaceSpecs
{
    private BankHost? other;

    protected override BankHost Other => other!;

    protected override async Task<BankHost> StartHostAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await BankHost.StartPostgresAsync(database, Configure);
        other = await BankHost.StartPostgresAsync(database, Configure);
        return host;
    }

    public override async ValueTask DisposeAsync()
    {
        if (other is not null) await other.DisposeAsync();
        await base.DisposeAsync();
    }
}
