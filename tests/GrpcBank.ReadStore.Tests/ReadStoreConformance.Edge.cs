using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;

namespace GrpcBank.ReadStore.Tests;

/// <summary>Keyset paging through the real server's gRPC edge: the page tokens it hands out carry the store's own cursors.</summary>
public abstract partial class ReadStoreConformance
{
    /// <summary>The real server in process, relay off, answering queries from this store.</summary>
    private async Task<T> ThroughTheEdgeAsync<T>(Func<QueryService.QueryServiceClient, Task<T>> calls)
    {
        await using var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        var served = host.Get<SwitchableReadStore>();
        var own = served.Current;
        served.SwitchTo(Store);
        try
        {
            return await calls(host.Query);
        }
        finally
        {
            served.SwitchTo(own); // the host disposes its own store, not this one
        }
    }

    /// <summary>Every page of a query through the edge, each asked with the token the previous one gave.</summary>
    private static async Task<List<string>> AllPagesAsync(Func<string, Task<(IEnumerable<string> Ids, string Next)>> page)
    {
        var ids = new List<string>();
        var token = "";
        for (var pages = 0; pages < 100; pages++)
        {
            var (items, next) = await page(token);
            ids.AddRange(items);
            if (next.Length == 0) return ids;
            token = next;
        }
        throw new Xunit.Sdk.XunitException("a hundred pages and still a next page token");
    }

    [Fact]
    public async Task PagingThroughTheGrpcEdge_ByEveryOrder_SeesEveryItemOnceInTheStoresOrder()
    {
        var h = new History();
        var events = new List<RecordedEvent>();
        for (var i = 0; i < 12; i++)
        {
            h.At(History.Start.AddHours(i / 3)); // opening times tie in threes
            events.Add(h.Opened($"e{i:00}", $"Owner {(char)('A' + i % 4)}", "CHF"));
            events.Add(h.Deposited($"e{i:00}", 1_000 * (i % 3 + 1), "CHF"));
        }
        events.AddRange(OrderPaidBy(h, "o1", "p1", "cust", "merch", 1_200, "lamp"));
        events.AddRange(OrderPaidBy(h, "o2", "p2", "cust", "merch", 300, "lamp shade", openAccounts: false));
        events.Add(h.Withdrawn("cust", 100));
        await Store.ApplyAsync(events, h.Position, None);
        string[] orders = ["relevance", "owner_name", "owner_name desc", "balance_minor", "balance_minor desc", "opened_at", "opened_at desc"];
        var direct = new Dictionary<string, List<string>>();
        foreach (var order in orders)
        {
            var text = order == "relevance" ? "owner" : "";
            var all = await Store.SearchAccountsAsync(new AccountSearch(text, null, "CHF", Enum.Parse<AccountOrder>(order.Replace("_", "").Replace(" desc", "Desc"), true), 100, null), None);
            direct[order] = all.Items.Select(a => a.AccountId).ToList();
        }

        var (accounts, orderIds, paymentIds, lines) = await ThroughTheEdgeAsync(async query =>
        {
            var accounts = new Dictionary<string, List<string>>();
            foreach (var order in orders)
                accounts[order] = await AllPagesAsync(async token =>
                {
                    var page = await query.SearchAccountsAsync(new SearchAccountsRequest
                    {
                        Query = order == "relevance" ? "owner" : "", CurrencyCode = "CHF", OrderBy = order, PageSize = 5, PageToken = token,
                    });
                    return (page.Accounts.Select(a => a.AccountId), page.NextPageToken);
                });
            var orderIds = await AllPagesAsync(async token =>
            {
                var page = await query.SearchOrdersAsync(new SearchOrdersRequest { PageSize = 1, PageToken = token });
                return (page.Orders.Select(o => o.OrderId), page.NextPageToken);
            });
            var paymentIds = await AllPagesAsync(async token =>
            {
                var page = await query.SearchPaymentsAsync(new SearchPaymentsRequest { AccountId = "cust", PageSize = 1, PageToken = token });
                return (page.Payments.Select(p => p.PaymentId), page.NextPageToken);
            });
            var lines = await AllPagesAsync(async token =>
            {
                var page = await query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = "cust", PageSize = 1, PageToken = token });
                return (page.Transactions.Select(t => t.Reference), page.NextPageToken);
            });
            return (accounts, orderIds, paymentIds, lines);
        });

        foreach (var order in orders)
        {
            Assert.Equal(12, accounts[order].Distinct().Count());
            Assert.Equal(direct[order], accounts[order]);
        }
        Assert.Equal(["o2", "o1"], orderIds);
        Assert.Equal(["p2", "p1"], paymentIds);
        Assert.Equal(["salary", "payment p1", "payment p2", ""], lines);
    }
}
