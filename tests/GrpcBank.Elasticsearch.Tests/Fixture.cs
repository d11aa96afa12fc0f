using Elastic.Clients.Elasticsearch;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Elasticsearch.Tests;

/// <summary>Fixed ids, times and canned node answers, so every snapshot is stable.</summary>
public static class Fixture
{
    public static readonly DateTimeOffset T0 = new(2025, 3, 1, 9, 30, 0, TimeSpan.Zero);

    public const string Shards = """{"total":1,"successful":1,"failed":0}""";

    /// <summary>A node where generation 1 already exists behind every alias and the dead-letter index exists.</summary>
    public static RecordingInvoker Node() => new RecordingInvoker()
        .On("GET", "/_alias/grpcbank-*", """
            {"grpcbank-accounts-v3-1":{"aliases":{"grpcbank-accounts":{}}},
             "grpcbank-transactions-v3-1":{"aliases":{"grpcbank-transactions":{}}},
             "grpcbank-orders-v3-1":{"aliases":{"grpcbank-orders":{}}},
             "grpcbank-payments-v3-1":{"aliases":{"grpcbank-payments":{}}},
             "grpcbank-checkpoint-v3-1":{"aliases":{"grpcbank-checkpoint":{}}},
             "grpcbank-holds-v3-1":{"aliases":{"grpcbank-holds":{}}},
             "grpcbank-deadletters":{"aliases":{}}}
            """)
        .On("PUT", "/grpcbank-deadletters", 400, AlreadyExists("grpcbank-deadletters"))
        .On("PUT", $"/{ViewsOfGeneration1}/_settings", """{"acknowledged":true}""");

    /// <summary>Every view index of generation 1, comma-separated, in the store's order.</summary>
    public const string ViewsOfGeneration1 =
        "grpcbank-accounts-v3-1,grpcbank-transactions-v3-1,grpcbank-orders-v3-1,grpcbank-payments-v3-1,grpcbank-checkpoint-v3-1,grpcbank-holds-v3-1";

    public static string AlreadyExists(string index) =>
        $$"""{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"index [{{index}}/abc] already exists","index":"{{index}}"}],"type":"resource_already_exists_exception","reason":"index [{{index}}/abc] already exists","index":"{{index}}"},"status":400}""";

    public static ElasticsearchReadStore Store(RecordingInvoker node, ILogger? logger = null) =>
        new(RecordingInvoker.Client(node),
            new ElasticsearchReadStoreOptions { RetryDelay = TimeSpan.Zero, Time = new FixedTime(T0.AddHours(1)) },
            logger);

    /// <summary>A store already past its start-up requests, with those requests cleared from the record.</summary>
    public static async Task<ElasticsearchReadStore> StartedStore(RecordingInvoker node, ILogger? logger = null)
    {
        var store = Store(node, logger);
        await store.InitializeAsync(CancellationToken.None);
        node.Sent.Clear();
        return store;
    }

    public static RecordedEvent Account(long position, string accountId, long version, AccountEvent e)
    {
        var (type, json) = EventCodecs.Accounts.Encode(e);
        return Recorded(position, $"account-{accountId}", version, type, json);
    }

    public static RecordedEvent Order(long position, string orderId, long version, OrderEvent e)
    {
        var (type, json) = EventCodecs.Orders.Encode(e);
        return Recorded(position, $"order-{orderId}", version, type, json);
    }

    public static RecordedEvent Payment(long position, string paymentId, long version, PaymentEvent e)
    {
        var (type, json) = EventCodecs.Payments.Encode(e);
        return Recorded(position, $"payment-{paymentId}", version, type, json);
    }

    private static RecordedEvent Recorded(long position, string streamId, long version, string type, string json) =>
        new(position, streamId, version, EventId(position), type, json, "{}", T0.AddMinutes(position));

    public static Guid EventId(long position) => Guid.Parse($"00000000-0000-0000-0000-{position:D12}");

    /// <summary>Ada opens an account and deposits 100.00; she orders a book from merchant m-1 and the payment starts.</summary>
    public static IReadOnlyList<RecordedEvent> Batch() =>
    [
        Account(1, "acc-1", 1, new AccountEvent.AccountOpened("acc-1", "Ada Lovelace", "EUR")),
        Account(2, "acc-1", 2, new AccountEvent.MoneyDeposited("acc-1", 10_000, "EUR", "salary")),
        Order(3, "ord-1", 1, new OrderEvent.OrderPlaced("ord-1", "acc-1", "m-1", 2_500, "EUR", "Analytical engine manual", "pay-1")),
        Payment(4, "pay-1", 1, new PaymentEvent.PaymentInitiated("pay-1", "ord-1", "acc-1", "m-1", 2_500, "EUR", "order ord-1", Settlement.Saga)),
    ];

    public static string MGetMiss(string index, params string[] ids) =>
        $$"""{"docs":[{{string.Join(",", ids.Select(id => $$"""{"_index":"{{index}}","_id":"{{id}}","found":false}"""))}}]}""";

    public static string BulkItem(string index, string id, int status, string? error = null) =>
        "{\"index\":{\"_index\":\"" + index + "\",\"_id\":\"" + id + "\","
        + (error is null
            ? "\"_version\":1,\"result\":\"created\",\"_shards\":" + Shards + ",\"_seq_no\":0,\"_primary_term\":1,\"status\":" + status
            : "\"status\":" + status + ",\"error\":" + error)
        + "}}";

    public static string Bulk(params string[] items) =>
        $$"""{"took":7,"errors":{{(items.Any(i => i.Contains("\"error\"")) ? "true" : "false")}},"items":[{{string.Join(",", items)}}]}""";

    public const string Ada = """{"account_id":"acc-1","owner_name":"Ada Lovelace","currency_code":"EUR","balance_minor":10000,"status":"Active","version":2,"opened_at":"2025-03-01T09:31:00+00:00","updated_at":"2025-03-01T09:32:00+00:00"}""";
    public const string Adam = """{"account_id":"acc-2","owner_name":"Adam Smith","currency_code":"EUR","balance_minor":500,"status":"Active","version":1,"opened_at":"2025-03-02T10:00:00+00:00","updated_at":"2025-03-02T10:00:00+00:00"}""";

    /// <summary>A search answer as a node gives it: each hit with its <c>sort</c> values (dates as epoch milliseconds).</summary>
    public static string Hits(long total, params (string Index, string Id, string Source, string Sort)[] hits) =>
        SearchAnswer(total, scored: false, hits);

    /// <summary>The same, sorted by <c>_score</c> first: then every hit carries its score, which is its first sort value.</summary>
    public static string ScoredHits(long total, params (string Index, string Id, string Source, string Sort)[] hits) =>
        SearchAnswer(total, scored: true, hits);

    private static string SearchAnswer(long total, bool scored, (string Index, string Id, string Source, string Sort)[] hits)
    {
        string ScoreOf(string sort) => scored ? sort.TrimStart('[').Split(',')[0] : "null";
        var maxScore = scored && hits.Length > 0 ? ScoreOf(hits[0].Sort) : "null";
        return $$"""{"took":3,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":{{total}},"relation":"eq"},"max_score":{{maxScore}},"hits":[""" +
            string.Join(",", hits.Select(h => $$"""{"_index":"{{h.Index}}","_id":"{{h.Id}}","_score":{{ScoreOf(h.Sort)}},"_source":{{h.Source}},"sort":{{h.Sort}}}""")) + "]}}";
    }

    public const string Refreshed = """{"_shards":{"total":2,"successful":1,"failed":0}}""";

    public static string Indexed(string index, string id, long version) =>
        $$"""{"_index":"{{index}}","_id":"{{id}}","_version":{{version}},"result":"created","_shards":{{Shards}},"_seq_no":0,"_primary_term":1}""";

    public sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>Keeps what was logged, to prove an error was reported rather than swallowed.</summary>
    public sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }
}
