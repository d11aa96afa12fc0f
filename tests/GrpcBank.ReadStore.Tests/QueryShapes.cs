using GrpcBank.Application.ReadSide;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// Every shape of query the QueryService can send a read store: each filter alone and combined, every order both ways,
/// first pages and pages after a cursor taken from a first page, text with and without typos, summaries by day and by
/// month for one account and for all. Over a <see cref="BankAtScale"/> history (account 0 is a busy one).
/// </summary>
public static class QueryShapes
{
    private static readonly CancellationToken None = CancellationToken.None;
    private const int PageSize = 20;

    /// <param name="Keyed">
    /// Whether the query names what it wants (an account, an order, text, a time range), so an index finds it in a range;
    /// one that does not (every account, a status, a currency) walks the index of its order and stops at the page's end.
    /// </param>
    public sealed record Shape(string Name, bool Keyed, Func<IReadStore, Task<object>> Run);

    public static IEnumerable<Shape> All()
    {
        var busy = BankAtScale.AccountId(0);
        var quiet = BankAtScale.AccountId(12_345);
        var from = History.Start.AddDays(100);
        var to = from.AddDays(30);

        foreach (var order in Enum.GetValues<AccountOrder>())
        foreach (var (name, text) in new[] { ("all", ""), ("text", "grace lov"), ("typo", "grace lovlace") })
        foreach (var (filterName, status, currency) in new (string, AccountViewStatus?, string?)[]
                 { ("", null, null), (" status", AccountViewStatus.Active, null), (" currency", null, "USD"), (" status+currency", AccountViewStatus.Active, "USD") })
        {
            if (order == AccountOrder.Relevance && text.Length == 0) continue; // refused at the edge: "relevance" needs a query
            var search = new AccountSearch(text, status, currency, order, PageSize, null);
            foreach (var shape in Paged($"SearchAccounts {name}{filterName} by {order}", text.Length > 0, search, (s, q) => s.SearchAccountsAsync(q, None),
                         (q, after) => q with { After = after }))
                yield return shape;
        }

        foreach (var (name, account, start, end) in new[] { ("busy", busy, (DateTimeOffset?)null, (DateTimeOffset?)null), ("quiet", quiet, null, null), ("busy in a month", busy, from, to) })
            foreach (var shape in Paged($"ListTransactions {name}", true, new TransactionQuery(account, start, end, PageSize, null),
                         (s, q) => s.ListTransactionsAsync(q, None), (q, after) => q with { After = after }))
                yield return shape;

        foreach (var shape in Paged("ListHolds busy", true, new HoldQuery(busy, PageSize, null), (s, q) => s.ListHoldsAsync(q, None),
                     (q, after) => q with { After = after }))
            yield return shape;

        foreach (var (name, status, account, orderId) in new (string, PaymentViewStatus?, string?, string?)[]
                 {
                     ("all", null, null, null), ("status", PaymentViewStatus.Failed, null, null), ("account", null, BankAtScale.AccountId(10), null),
                     ("order", null, null, "ord-0000001"), ("status+account", PaymentViewStatus.Completed, BankAtScale.AccountId(10), null),
                     ("status in flight", PaymentViewStatus.Initiated, null, null),
                 })
            foreach (var shape in Paged($"SearchPayments {name}", account is not null || orderId is not null, new PaymentSearch(status, account, orderId, PageSize, null),
                         (s, q) => s.SearchPaymentsAsync(q, None), (q, after) => q with { After = after }))
                yield return shape;

        foreach (var (name, text, status, customer, merchant) in new (string, string, OrderViewStatus?, string?, string?)[]
                 {
                     ("all", "", null, null, null), ("text", "piano 17", null, null, null), ("status", "", OrderViewStatus.Cancelled, null, null),
                     ("customer", "", null, BankAtScale.AccountId(10), null), ("merchant", "", null, null, busy),
                     ("text+merchant", "lamp", null, null, busy), ("status+customer", "", OrderViewStatus.Placed, BankAtScale.AccountId(10), null),
                 })
            foreach (var shape in Paged($"SearchOrders {name}", text.Length > 0 || customer is not null || merchant is not null, new OrderSearch(text, status, customer, merchant, PageSize, null),
                         (s, q) => s.SearchOrdersAsync(q, None), (q, after) => q with { After = after }))
                yield return shape;

        foreach (var interval in Enum.GetValues<SummaryInterval>())
        {
            yield return new($"Summarize busy by {interval}", true, async s => await s.SummarizeTransactionsAsync(new(busy, null, null, null, interval), None));
            yield return new($"Summarize busy a month by {interval}", true, async s => await s.SummarizeTransactionsAsync(new(busy, null, from, to, interval), None));
            yield return new($"Summarize all EUR by {interval}", false, async s => await s.SummarizeTransactionsAsync(new(null, "EUR", null, null, interval), None));
            yield return new($"Summarize all EUR a month by {interval}", true, async s => await s.SummarizeTransactionsAsync(new(null, "EUR", from, to, interval), None));
        }
    }

    /// <summary>The first page, and the page after the first page's last row.</summary>
    private static IEnumerable<Shape> Paged<TQuery, T>(string name, bool keyed, TQuery first, Func<IReadStore, TQuery, Task<Page<T>>> run,
        Func<TQuery, SortKey, TQuery> after)
    {
        yield return new(name, keyed, async s => await run(s, first));
        yield return new(name + " after a page", keyed, async s =>
        {
            var page = await run(s, first);
            return page.NextAfter is { } next ? await run(s, after(first, next)) : page;
        });
    }
}
