using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using GrpcBank.Application.ReadSide;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using PaymentEvent = GrpcBank.Domain.Payments.PaymentEvent;
using GrpcBank.ReadStore.Tests;
using Microsoft.Extensions.DependencyInjection;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// A bank upgraded from the release whose payments were a saga (tests/fixtures/history-v1, as that release stored it):
/// its history is served as it was, its completed payments refund atomically, and a saga payment caught in flight by
/// the upgrade is carried to its end by the payment process.
/// </summary>
public abstract class HistoryUpgradeSpecs
{
    protected abstract Task<BankHost> StartHostAsync(params (string Key, string Value)[] settings);

    [Fact]
    public async Task TheSagaReleasesHistory_IsServedAsItWas_AndItsCompletedPaymentsRefundAtomically()
    {
        var corpus = HistoryCorpus.Load("history-v1");
        await using var host = await UpgradedAsync(corpus);
        var bank = new Bank(host);
        var last = corpus.Events[^1].Position;

        foreach (var expected in corpus.ReadSide.Accounts)
            Assert.Equal(expected.BalanceMinor, (await bank.AccountAsync(expected.AccountId, last)).BalanceMinor);
        var dinner = (await bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = "t-dinner", MinPosition = last })).Payment;
        Assert.Equal((PaymentStatus.Completed, "ada", "grace", 12_345L), (dinner.Status, dinner.FromAccountId, dinner.ToAccountId, dinner.AmountMinor));

        var refund = await bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = "t-dinner", Reason = "upgrade" });
        var orderRefund = await bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = "order-o-paid", Reason = "upgrade" });
        await Rejected("INSUFFICIENT_FUNDS", () =>
            bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = "t-spent" }).ResponseAsync);

        var at = Math.Max(refund.Position, orderRefund.Position);
        Assert.Equal(PaymentStatus.Refunded, (await bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = "t-dinner", MinPosition = at })).Payment.Status);
        Assert.Equal(PaymentStatus.Refunded, (await bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = "order-o-paid", MinPosition = at })).Payment.Status);
        Assert.Equal(PaymentStatus.Completed, (await bank.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = "t-spent", MinPosition = at })).Payment.Status);
        Assert.Equal(79_406 + 12_345 + 2_999, (await bank.AccountAsync("ada", at)).BalanceMinor);
        Assert.Equal(56_345 - 12_345, (await bank.AccountAsync("grace", at)).BalanceMinor);
        Assert.Equal(0, (await bank.AccountAsync("shop", at)).BalanceMinor);
        var payment = await host.Get<IEventStore>().ReadStreamAsync("payment-t-dinner", 1, 100, CancellationToken.None);
        Assert.Equal(["payments.PaymentInitiated.v1", "payments.PayerDebited.v1", "payments.PaymentCompleted.v1", "payments.RefundRequested.v2", "payments.PaymentRefunded.v1"],
            payment.Select(e => e.EventType));
        Assert.Equal(Settlement.Atomic, Assert.IsType<PaymentEvent.RefundRequested>(EventCodecs.Payments.Decode(payment[3])).Settlement);
    }

    [Fact]
    public async Task ASagaPaymentInFlightAtTheUpgrade_IsCarriedToItsEndByTheProcess_Once()
    {
        await using var host = await StartHostAsync();
        var bank = new Bank(host);
        var payer = await bank.OpenAsync(deposit: 5_000);
        var payee = await bank.OpenAsync();
        // What the saga release's TransferMoney wrote before answering; the upgrade came before the process took a step.
        var paymentId = NewId();
        var appended = await host.Get<IEventStore>().AppendAsync(new AppendRequest($"payment-{paymentId}", 0,
            [new EventData(Guid.NewGuid(), "payments.PaymentInitiated.v1",
                $$"""{"paymentId":"{{paymentId}}","orderId":"","fromAccountId":"{{payer}}","toAccountId":"{{payee}}","amountMinor":1500,"currencyCode":"EUR","reference":"rent"}""",
                "{}")], null, DateTimeOffset.UtcNow), CancellationToken.None);
        Assert.IsType<AppendResult.Appended>(appended);

        var completed = await bank.PaymentAsync(paymentId, PaymentStatus.Completed);

        Assert.Equal(3_500, (await bank.AccountAsync(payer, completed.Version)).BalanceMinor);
        Assert.Equal(1_500, (await bank.AccountAsync(payee)).BalanceMinor);
        var store = host.Get<IEventStore>();
        Assert.Equal(["payments.PaymentInitiated.v1", "payments.PayerDebited.v1", "payments.PaymentCompleted.v2"],
            (await store.ReadStreamAsync($"payment-{paymentId}", 1, 100, CancellationToken.None)).Select(e => e.EventType));
        var debit = (await store.ReadStreamAsync($"account-{payer}", 1, 100, CancellationToken.None))[^1];
        Assert.Equal("accounts.PaymentDebited.v2", debit.EventType);
        Assert.Equal(Settlement.Saga, Assert.IsType<AccountEvent.PaymentDebited>(EventCodecs.Accounts.Decode(debit)).Settlement);
    }

    [Fact]
    public async Task APlaceOrderTheSagaReleaseLogged_RetriedAfterTheUpgrade_GetsItsFirstReply()
    {
        await using var host = await StartHostAsync();
        var bank = new Bank(host);
        var customer = await bank.OpenAsync(deposit: 5_000);
        var merchant = await bank.OpenAsync();
        var orderId = NewId();
        var request = new PlaceOrderRequest
        {
            OrderId = orderId, CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 1_500, CurrencyCode = "EUR",
            Description = "a book", RequestId = NewId(),
        };
        // What the saga release wrote for this call: the order placed, and its reply in the request log in that release's
        // one reply shape (CommandReply: the id, the version, position 0, no balance), under its fingerprint of the call.
        var withoutId = request.Clone();
        withoutId.RequestId = "";
        var fingerprint = Convert.ToHexString(SHA256.HashData([.. Encoding.UTF8.GetBytes("/bank.orders.v1.OrderService/PlaceOrder"), .. withoutId.ToByteArray()]));
        var placed = await host.Get<IEventStore>().AppendAsync(new AppendRequest($"order-{orderId}", 0,
            [new EventData(Guid.NewGuid(), "orders.OrderPlaced.v1",
                $$"""{"orderId":"{{orderId}}","customerAccountId":"{{customer}}","merchantAccountId":"{{merchant}}","amountMinor":1500,"currencyCode":"EUR","description":"a book","paymentId":"order-{{orderId}}"}""",
                "{}")],
            new RequestLogEntry(request.RequestId, fingerprint, $$"""{"aggregateId":"{{orderId}}","version":1,"position":0,"balanceMinor":null}"""),
            DateTimeOffset.UtcNow), CancellationToken.None);
        var position = Assert.IsType<AppendResult.Appended>(placed).Position;

        var retried = await bank.Orders.PlaceOrderAsync(request);

        Assert.Equal((orderId, 1L, position, $"order-{orderId}"), (retried.OrderId, retried.Version, retried.Position, retried.PaymentId));
        // That release placed orders without holds: its reply said nothing of one.
        Assert.Equal((false, "", "", null), (retried.Authorized, retried.CancellationReason, retried.HoldId, retried.AuthorizationExpiresAt));
        // The retry wrote nothing (the payment process carries the saga order on, under its own request ids).
        Assert.DoesNotContain(await host.Get<IEventStore>().ReadAllAsync(0, 100, CancellationToken.None),
            e => e.MetadataJson.Contains(request.RequestId, StringComparison.Ordinal));
    }

    /// <summary>
    /// A fresh bank holding the corpus as the old release left it: every event stored under its original name and
    /// version, delivered to the read side, nothing left for the payment process (it ran then). Then the new release
    /// starts on it.
    /// </summary>
    private async Task<BankHost> UpgradedAsync(HistoryCorpus corpus)
    {
        var host = await StartHostAsync(("Relay:Enabled", "false"));
        var store = host.Get<IEventStore>();
        foreach (var e in corpus.Events)
        {
            var appended = await store.AppendAsync(new AppendRequest(e.StreamId, e.StreamVersion - 1,
                [new EventData(e.EventId, e.EventType, e.DataJson, e.MetadataJson)], null, e.RecordedAt), CancellationToken.None);
            Assert.IsType<AppendResult.Appended>(appended);
        }
        var readSide = host.Services.GetServices<IEventSink>().Where(s => s.Name != "payment-process").ToList();
        var delivered = 0;
        while (delivered < corpus.Events.Count)
        {
            var batch = await store.Outbox.ReadPendingAsync(ReadStoreSink.SinkName, 500, CancellationToken.None);
            foreach (var sink in readSide) await sink.HandleAsync(batch.Events, batch.Watermark, CancellationToken.None);
            // The previous release delivered its history to every consumer: none may see it again after the upgrade.
            foreach (var consumer in host.Services.GetServices<IEventSink>())
                await store.Outbox.CompleteAsync(consumer.Name, batch, CancellationToken.None);
            delivered += batch.Events.Count;
        }
        await host.RestartAsync(("Relay:Enabled", "true"));
        return host;
    }
}
