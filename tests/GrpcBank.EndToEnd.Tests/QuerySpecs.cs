using Google.Protobuf.WellKnownTypes;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Query.V1;
using Grpc.Core;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Statements, search, paging and summaries through QueryService. Runs on each store.</summary>
public abstract class QuerySpecs : BankSpecs
{
    private QueryService.QueryServiceClient Query => Bank.Query;

    /// <summary>Opens an account and returns its id with the position of the last event written.</summary>
    private async Task<(string Id, long Position)> OpenAsync(string owner, string currency = "EUR")
    {
        var id = NewId();
        var opened = await Bank.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = owner, CurrencyCode = currency });
        return (id, opened.Position);
    }

    private async Task<long> DepositAsync(string accountId, long amount) =>
        (await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = accountId, AmountMinor = amount, CurrencyCode = "EUR" })).Position;

    private async Task<long> WithdrawAsync(string accountId, long amount) =>
        (await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = accountId, AmountMinor = amount, CurrencyCode = "EUR" })).Position;

    private async Task<IReadOnlyList<Transaction>> StatementAsync(string accountId, long minPosition = 0) =>
        (await Query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = accountId, MinPosition = minPosition })).Transactions;

    private async Task<List<string>> NamesFoundAsync(string query, long minPosition) =>
        (await Query.SearchAccountsAsync(new SearchAccountsRequest { Query = query, MinPosition = minPosition }))
        .Accounts.Select(a => a.OwnerName).ToList();

    [Fact]
    public async Task TheStatement_ShowsEveryMovementWithTheBalanceAfterIt_AndThePaymentAndOrderThatCausedIt()
    {
        var (customer, _) = await OpenAsync("Ada Customer");
        var (merchant, _) = await OpenAsync("Bob Merchant");
        await DepositAsync(customer, 10_000);
        await WithdrawAsync(customer, 1_500);
        var placed = await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 2_500, CurrencyCode = "EUR", Description = "books",
        });
        var fulfilled = await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = placed.OrderId });
        Assert.Equal(OrderStatus.Paid,
            (await Query.GetOrderAsync(new GetOrderRequest { OrderId = placed.OrderId, MinPosition = fulfilled.Position })).Order.Status);

        var customerLines = await StatementAsync(customer);
        var merchantLines = await StatementAsync(merchant);

        Assert.Equal(
        [
            (TransactionKind.Deposit, 10_000L, 10_000L, "", ""),
            (TransactionKind.Withdrawal, 1_500L, 8_500L, "", ""),
            (TransactionKind.PaymentDebit, 2_500L, 6_000L, placed.PaymentId, placed.OrderId),
        ], customerLines.Select(t => (t.Kind, t.AmountMinor, t.BalanceAfterMinor, t.PaymentId, t.OrderId)));
        Assert.Equal([(TransactionKind.PaymentCredit, 2_500L, 2_500L, placed.PaymentId, placed.OrderId)],
            merchantLines.Select(t => (t.Kind, t.AmountMinor, t.BalanceAfterMinor, t.PaymentId, t.OrderId)));
        Assert.All(customerLines, t => Assert.Equal((customer, "EUR"), (t.AccountId, t.CurrencyCode)));
    }

    [Fact]
    public async Task SearchAccounts_FindsOwnersByPrefix_AndDespiteATypo()
    {
        await OpenAsync("Margaret Hamilton");
        await OpenAsync("Worthy Adams");
        await OpenAsync("Grace Hopper");
        var (_, position) = await OpenAsync("Dorothy Vaughan");

        Assert.Equal(["Margaret Hamilton"], await NamesFoundAsync("marg", position));
        Assert.Equal("Dorothy Vaughan", (await NamesFoundAsync("dorthy", position))[0]);
        Assert.Equal(["Grace Hopper"], await NamesFoundAsync("grace hoper", position));
    }

    [Fact]
    public async Task SearchAccounts_PagesWithTokens_SeeingEachAccountOnce()
    {
        long position = 0;
        for (var i = 0; i < 25; i++) (_, position) = await OpenAsync($"Owner {i:00}", "CHF");
        await OpenAsync("Someone Else", "EUR");

        var seen = new List<string>();
        var request = new SearchAccountsRequest { CurrencyCode = "CHF", PageSize = 10, OrderBy = "owner_name desc", MinPosition = position };
        var pages = 0;
        do
        {
            var page = await Query.SearchAccountsAsync(request);
            Assert.Equal(25, page.TotalSize);
            Assert.True(page.Position >= position);
            seen.AddRange(page.Accounts.Select(a => a.OwnerName));
            request.PageToken = page.NextPageToken;
            pages++;
        } while (request.PageToken.Length > 0 && pages < 5);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"Owner {i:00}").Reverse(), seen);
    }

    [Fact]
    public async Task APageToken_ThatIsMalformed_OrFromAnotherQuery_IsRefused()
    {
        long position = 0;
        for (var i = 0; i < 3; i++) (_, position) = await OpenAsync($"Owner {i}", "CHF");
        var first = await Query.SearchAccountsAsync(new SearchAccountsRequest { CurrencyCode = "CHF", PageSize = 2, MinPosition = position });
        Assert.NotEmpty(first.NextPageToken);

        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { CurrencyCode = "CHF", PageSize = 2, PageToken = "not-a-token" }).ResponseAsync,
            "page_token");
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { CurrencyCode = "EUR", PageSize = 2, PageToken = first.NextPageToken }).ResponseAsync,
            "page_token");
        await Invalid(() => Query.SearchOrdersAsync(new SearchOrdersRequest { PageToken = first.NextPageToken }).ResponseAsync, "page_token");
        var second = await Query.SearchAccountsAsync(new SearchAccountsRequest { CurrencyCode = "CHF", PageSize = 5, PageToken = first.NextPageToken });
        Assert.Equal(["Owner 2"], second.Accounts.Select(a => a.OwnerName));
    }

    [Fact]
    public async Task APageToken_AlteredInAnyByte_IsRefused_NamingPageToken()
    {
        long position = 0;
        for (var i = 0; i < 3; i++) (_, position) = await OpenAsync($"Owner {i}", "CHF");
        var request = new SearchAccountsRequest { CurrencyCode = "CHF", PageSize = 1, OrderBy = "owner_name", MinPosition = position };
        var token = (await Query.SearchAccountsAsync(request)).NextPageToken;
        Assert.NotEmpty(token);

        // Every character of the token replaced by another of the token alphabet: each variant is refused.
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        for (var i = 0; i < token.Length; i++)
        {
            var altered = token[..i] + alphabet[(alphabet.IndexOf(token[i]) + 1 + i % 7) % alphabet.Length] + token[(i + 1)..];
            await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest(request) { PageToken = altered }).ResponseAsync, "page_token");
        }
        // The cursor moved to another owner, re-encoded as a well-formed token without the key: refused too.
        var payload = token.Split('.')[0];
        var json = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Base64(payload))).Replace("Owner 0", "Owner 1");
        var forged = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_')
            + "." + token.Split('.')[1];
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest(request) { PageToken = forged }).ResponseAsync, "page_token");
        // The genuine token still works.
        var second = await Query.SearchAccountsAsync(new SearchAccountsRequest(request) { PageToken = token });
        Assert.Equal(["Owner 1"], second.Accounts.Select(a => a.OwnerName));
    }

    private static string Base64(string base64Url)
    {
        var base64 = base64Url.Replace('-', '+').Replace('_', '/');
        return base64 + new string('=', (4 - base64.Length % 4) % 4);
    }

    [Fact]
    public async Task AnUndefinedEnumValue_IsRefused_NamingTheContractsValues()
    {
        var e = await Fails(Grpc.Core.StatusCode.InvalidArgument,
            () => Query.SearchAccountsAsync(new SearchAccountsRequest { Status = (AccountStatus)9 }).ResponseAsync);
        var violation = Assert.Single(e.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations);
        Assert.Equal("status", violation.Field);
        Assert.Equal(
            "must be one of ACCOUNT_STATUS_UNSPECIFIED, ACCOUNT_STATUS_ACTIVE, ACCOUNT_STATUS_FROZEN, ACCOUNT_STATUS_CLOSED",
            violation.Description);
        var orders = await Fails(Grpc.Core.StatusCode.InvalidArgument,
            () => Query.SearchOrdersAsync(new SearchOrdersRequest { Status = (OrderStatus)42 }).ResponseAsync);
        Assert.Contains("ORDER_STATUS_PAID", orders.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations[0].Description);
    }

    [Fact]
    public async Task ASearchWithNothingSearchable_FindsNothing_WhileBlankFindsAll()
    {
        var (customer, _) = await OpenAsync("Ada Lovelace");
        var (merchant, _) = await OpenAsync("Grace Hopper");
        var position = (await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 100, CurrencyCode = "EUR", Description = "books",
        })).Position;

        foreach (var query in new[] { "*", "\"", "( - ^", "\U0001F600" })
        {
            var found = await Query.SearchAccountsAsync(new SearchAccountsRequest { Query = query, MinPosition = position });
            var orders = await Query.SearchOrdersAsync(new SearchOrdersRequest { Query = query, MinPosition = position });
            Assert.Equal((query, 0, 0L, 0, 0L), (query, found.Accounts.Count, found.TotalSize, orders.Orders.Count, orders.TotalSize));
        }
        // Blank is no query at all: everything.
        Assert.Equal(2, (await Query.SearchAccountsAsync(new SearchAccountsRequest { Query = " ", MinPosition = position })).TotalSize);
        Assert.Equal(1, (await Query.SearchOrdersAsync(new SearchOrdersRequest { Query = " ", MinPosition = position })).TotalSize);
    }

    [Fact]
    public async Task AMinPositionBeyondTheEventStoresHead_IsOutOfRangeAtOnce_NamingTheHead()
    {
        var (id, position) = await OpenAsync("Ada Lovelace");

        var e = await Fails(Grpc.Core.StatusCode.OutOfRange, () => Query.GetAccountAsync(
            new GetAccountRequest { AccountId = id, MinPosition = position + 1_000 }, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync);

        var info = e.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>();
        Assert.Equal("MIN_POSITION_BEYOND_HEAD", info.Reason);
        Assert.Equal(position.ToString(), info.Metadata["head_position"]);
        Assert.Equal("min_position", Assert.Single(e.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);
        await Fails(Grpc.Core.StatusCode.OutOfRange, () => Query.SearchAccountsAsync(new SearchAccountsRequest { MinPosition = long.MaxValue }).ResponseAsync);
    }

    [Fact]
    public async Task MalformedQueryArguments_AreRefused_NamingTheField()
    {
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { PageSize = 101 }).ResponseAsync, "page_size");
        await Invalid(() => Query.SearchPaymentsAsync(new SearchPaymentsRequest { PageSize = -1 }).ResponseAsync, "page_size");
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { OrderBy = "balance" }).ResponseAsync, "order_by");
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { OrderBy = "relevance" }).ResponseAsync, "order_by");
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { Status = (AccountStatus)9 }).ResponseAsync, "status");
        await Invalid(() => Query.SearchAccountsAsync(new SearchAccountsRequest { CurrencyCode = "eur" }).ResponseAsync, "currency_code");
        await Invalid(() => Query.SearchOrdersAsync(new SearchOrdersRequest { Query = new string('x', 201) }).ResponseAsync, "query");
        await Invalid(() => Query.SummarizeTransactionsAsync(new SummarizeTransactionsRequest { CurrencyCode = "EUR", Interval = (SummaryInterval)7 }).ResponseAsync,
            "interval");
        await Invalid(() => Query.SummarizeTransactionsAsync(new SummarizeTransactionsRequest()).ResponseAsync, "currency_code");
        var now = DateTimeOffset.UtcNow;
        await Invalid(() => Query.ListTransactionsAsync(new ListTransactionsRequest
        {
            AccountId = "a1", StartTime = Timestamp.FromDateTimeOffset(now), EndTime = Timestamp.FromDateTimeOffset(now.AddDays(-1)),
        }).ResponseAsync, "end_time");
    }

    [Fact]
    public async Task Summaries_SumCreditsAndDebits_PerBucketAndInTotal()
    {
        var (account, _) = await OpenAsync("Ada");
        var (other, _) = await OpenAsync("Bob");
        await DepositAsync(account, 1_000);
        await DepositAsync(account, 500);
        await DepositAsync(other, 70);
        var position = await WithdrawAsync(account, 300);

        var daily = await Query.SummarizeTransactionsAsync(new SummarizeTransactionsRequest { AccountId = account, MinPosition = position });
        var monthlyForAll = await Query.SummarizeTransactionsAsync(new SummarizeTransactionsRequest
        {
            CurrencyCode = "EUR", Interval = SummaryInterval.Month, MinPosition = position,
        });

        var today = (await StatementAsync(account))[0].OccurredAt.ToDateTime().Date;
        Assert.Equal(new TransactionSummary { CreditMinor = 1_500, CreditCount = 2, DebitMinor = 300, DebitCount = 1 }, daily.Totals);
        var bucket = Assert.Single(daily.Buckets);
        Assert.Equal((1_500L, 2L, 300L, 1L), (bucket.CreditMinor, bucket.CreditCount, bucket.DebitMinor, bucket.DebitCount));
        Assert.Equal(today, bucket.StartTime.ToDateTime());
        var month = Assert.Single(monthlyForAll.Buckets);
        Assert.Equal(new DateTime(today.Year, today.Month, 1, 0, 0, 0, DateTimeKind.Utc), month.StartTime.ToDateTime());
        Assert.Equal(new TransactionSummary { CreditMinor = 1_570, CreditCount = 3, DebitMinor = 300, DebitCount = 1 }, monthlyForAll.Totals);
    }

    [Fact]
    public async Task AStatementOfAnUnknownAccount_IsNotFound() =>
        await Fails(Grpc.Core.StatusCode.NotFound, () => Query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = "nobody" }).ResponseAsync);
}
