using System.Security.Cryptography;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using GrpcBank.Sqlite;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// Stored history still reads: the events the first release wrote (tests/fixtures/history-v1, recorded through
/// the real server before transfers became atomic) decode, fold with the Domain's Evolve, and project through
/// the real read store to exactly what that release's query service showed.
/// </summary>
public sealed class HistoryCorpusTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly HistoryCorpus Corpus = HistoryCorpus.Load("history-v1");

    private readonly string directory = Path.Combine(Path.GetTempPath(), "grpcbank-corpus-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public void TheCorpus_IsByteForByteAsRecorded()
    {
        // Stored history is never edited; a changed byte here means the fixture was, not that the code broke.
        Assert.Equal("0dfdf2bc47c44da3ae2cd40654136dc0473af0cc0f54b508859b53136d4e5b75", Sha256("events.jsonl"));
        Assert.Equal("ac69b7592de96418394e21ad9cbbcdfb80f4093d97235c28d00bb139c342f32f", Sha256("expected.json"));
    }

    /// <summary>Event types first written by a release after the corpus was taken (the corpus is never edited).</summary>
    private static readonly string[] WrittenSinceTheCorpus =
    [
        "accounts.HoldPlaced.v1", "accounts.HoldCaptured.v1", "accounts.HoldReleased.v1", "accounts.HoldExpired.v1",
        "accounts.OverdraftLimitSet.v1", "accounts.AccountRestricted.v1", "accounts.RestrictionLifted.v1",
        "orders.OrderAuthorized.v1", "orders.OrderDeclined.v1",
    ];

    [Fact]
    public void TheCorpus_HoldsEveryFirstVersionEventTypeOfEveryContext_InAWellFormedHistory()
    {
        var firstVersions = AccountEventTypes.ByName.Keys.Concat(PaymentEventTypes.ByName.Keys).Concat(OrderEventTypes.ByName.Keys)
            .Where(name => name.EndsWith(".v1", StringComparison.Ordinal))
            .Except(WrittenSinceTheCorpus);
        Assert.Empty(firstVersions.Except(Corpus.Events.Select(e => e.EventType)));

        Assert.Equal(Enumerable.Range(1, Corpus.Events.Count).Select(p => (long)p), Corpus.Events.Select(e => e.Position));
        Assert.Equal(Corpus.ReadSide.Position, Corpus.Events[^1].Position);
        Assert.All(Corpus.Events.GroupBy(e => e.StreamId), stream =>
            Assert.Equal(Enumerable.Range(1, stream.Count()).Select(v => (long)v), stream.Select(e => e.StreamVersion)));
    }

    [Fact]
    public void EveryEvent_DecodesToAnEventOfItsStreamsContext()
    {
        Assert.All(Corpus.Events, e =>
        {
            var decoded = EventCodecs.Decode(e);
            Assert.NotNull(decoded);
            Assert.IsType(e.StreamId.Split('-')[0] switch
            {
                "account" => typeof(AccountEvent),
                "payment" => typeof(PaymentEvent),
                "order" => typeof(OrderEvent),
                var category => throw new InvalidDataException($"{e.StreamId}: no context named {category}"),
            }, decoded, exactMatch: false);
        });
    }

    [Fact]
    public void FoldingEveryAccountStream_GivesTheBalanceStatusAndVersionTheReadSideShowed()
    {
        var folded = Streams("account-", EventCodecs.Accounts).Select(stream =>
        {
            var s = Account.Decider.Fold(stream.Events);
            return new HistoryCorpus.Account(s.AccountId, s.OwnerName, s.CurrencyCode, s.BalanceMinor, Wire("ACCOUNT_STATUS", s.Status),
                stream.Events.Count);
        });

        Assert.Equal(ById(Corpus.ReadSide.Accounts, a => a.AccountId), ById(folded, a => a.AccountId));
    }

    [Fact]
    public void FoldingEveryPaymentAndOrderStream_GivesTheOutcomeTheReadSideShowed()
    {
        var payments = Streams("payment-", EventCodecs.Payments).Select(stream =>
        {
            var s = Payment.Decider.Fold(stream.Events);
            return new HistoryCorpus.Payment(s.PaymentId, s.OrderId, s.FromAccountId, s.ToAccountId, s.AmountMinor, s.CurrencyCode,
                Wire("PAYMENT_STATUS", s.Status), s.FailureReason, stream.Events.Count);
        });
        var orders = Streams("order-", EventCodecs.Orders).Select(stream =>
        {
            var s = Order.Decider.Fold(stream.Events);
            return (s.OrderId, s.CustomerAccountId, s.MerchantAccountId, s.AmountMinor, s.CurrencyCode, Status: Wire("ORDER_STATUS", s.Status),
                s.PaymentId, Version: (long)stream.Events.Count);
        });

        Assert.Equal(ById(Corpus.ReadSide.Payments, p => p.PaymentId), ById(payments, p => p.PaymentId));
        Assert.Equal(
            ById(Corpus.ReadSide.Orders, o => o.OrderId)
                .Select(o => (o.OrderId, o.CustomerAccountId, o.MerchantAccountId, o.AmountMinor, o.CurrencyCode, o.Status, o.PaymentId, o.Version)),
            ById(orders, o => o.OrderId));
    }

    [Fact]
    public async Task ProjectingTheCorpusIntoAFreshReadStore_ShowsWhatTheQueryServiceShowed()
    {
        using var store = new SqliteReadStore(Path.Combine(directory, "read.db"));
        foreach (var batch in Corpus.Events.Chunk(10)) await store.ApplyAsync(batch, batch[^1].Position, None);

        Assert.Equal(Corpus.ReadSide.Position, await store.AppliedPositionAsync(None));
        var expected = Corpus.ReadSide;
        Assert.Equal(expected.Accounts.Count,
            (await store.SearchAccountsAsync(new AccountSearch("", null, null, AccountOrder.OwnerName, 100, null), None)).TotalSize);
        Assert.Equal(expected.Payments.Count, (await store.SearchPaymentsAsync(new PaymentSearch(null, null, null, 100, null), None)).TotalSize);
        Assert.Equal(expected.Orders.Count, (await store.SearchOrdersAsync(new OrderSearch("", null, null, null, 100, null), None)).TotalSize);
        foreach (var account in expected.Accounts)
        {
            var v = await store.GetAccountAsync(account.AccountId, None);
            Assert.NotNull(v);
            Assert.Equal(account, new HistoryCorpus.Account(v.AccountId, v.OwnerName, v.CurrencyCode, v.BalanceMinor,
                Wire("ACCOUNT_STATUS", v.Status), v.Version));
            // The statement agrees with the balance: money in minus money out.
            var totals = (await store.SummarizeTransactionsAsync(new SummaryQuery(account.AccountId, null, null, null, SummaryInterval.Month), None)).Totals;
            Assert.Equal(account.BalanceMinor, totals.CreditMinor - totals.DebitMinor);
        }
        foreach (var payment in expected.Payments)
        {
            var v = await store.GetPaymentAsync(payment.PaymentId, None);
            Assert.NotNull(v);
            Assert.Equal(payment, new HistoryCorpus.Payment(v.PaymentId, v.OrderId, v.FromAccountId, v.ToAccountId, v.AmountMinor,
                v.CurrencyCode, Wire("PAYMENT_STATUS", v.Status), v.FailureReason, v.Version));
        }
        foreach (var order in expected.Orders)
        {
            var v = await store.GetOrderAsync(order.OrderId, None);
            Assert.NotNull(v);
            Assert.Equal(order, new HistoryCorpus.Order(v.OrderId, v.CustomerAccountId, v.MerchantAccountId, v.AmountMinor, v.CurrencyCode,
                Wire("ORDER_STATUS", v.Status), v.CancellationReason, v.PaymentId, v.Version));
        }
    }

    /// <summary>Each stream with the given prefix, decoded in version order.</summary>
    private static IEnumerable<(string StreamId, IReadOnlyList<TEvent> Events)> Streams<TEvent>(string prefix, EventCodec<TEvent> codec)
        where TEvent : class =>
        Corpus.Events
            .Where(e => e.StreamId.StartsWith(prefix, StringComparison.Ordinal))
            .GroupBy(e => e.StreamId)
            .Select(stream => (stream.Key, (IReadOnlyList<TEvent>)stream.OrderBy(e => e.StreamVersion).Select(codec.Decode).ToList()));

    /// <summary>An enum value as the wire names it: ACCOUNT_STATUS_ACTIVE for Active.</summary>
    private static string Wire(string prefix, Enum value) => $"{prefix}_{value.ToString().ToUpperInvariant()}";

    private static List<T> ById<T>(IEnumerable<T> items, Func<T, string> id) => items.OrderBy(id, StringComparer.Ordinal).ToList();

    private static string Sha256(string file) =>
        Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(HistoryCorpus.Directory("history-v1"), file))));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
    }
}
