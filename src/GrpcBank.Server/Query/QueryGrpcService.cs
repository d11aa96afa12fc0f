using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.ReadSide;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Domain;
using GrpcBank.Server.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using static GrpcBank.Server.Query.ViewsOnTheWire;
using AccountRejection = GrpcBank.Domain.Accounts.AccountRejection;
using OrderRejection = GrpcBank.Domain.Orders.OrderRejection;
using PaymentRejection = GrpcBank.Domain.Payments.PaymentRejection;

namespace GrpcBank.Server.Query;

/// <summary>bank.query.v1.QueryService: answers from the read side, after waiting for min_position.</summary>
public sealed class QueryGrpcService(IReadStore readStore, ReadSideWaiter waiter, PageTokens tokens, IHostApplicationLifetime lifetime)
    : QueryService.QueryServiceBase
{
    /// <summary>How long a call without a deadline may wait for the read side to catch up (with one: until just before it).</summary>
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan DeadlineMargin = TimeSpan.FromMilliseconds(50);

    public override async Task<GetAccountResponse> GetAccount(GetAccountRequest request, ServerCallContext context)
    {
        var (view, position) = await GetAsync(new FieldErrors().Id("account_id", request.AccountId), request.MinPosition,
            ct => readStore.GetAccountAsync(request.AccountId, ct), new AccountRejection.AccountNotFound(request.AccountId), context);
        return new GetAccountResponse { Account = ToProto(view), Position = position };
    }

    public override async Task<GetOrderResponse> GetOrder(GetOrderRequest request, ServerCallContext context)
    {
        var (view, position) = await GetAsync(new FieldErrors().Id("order_id", request.OrderId), request.MinPosition,
            ct => readStore.GetOrderAsync(request.OrderId, ct), new OrderRejection.OrderNotFound(request.OrderId), context);
        return new GetOrderResponse { Order = ToProto(view), Position = position };
    }

    public override async Task<GetPaymentResponse> GetPayment(GetPaymentRequest request, ServerCallContext context)
    {
        var (view, position) = await GetAsync(new FieldErrors().PaymentId("payment_id", request.PaymentId), request.MinPosition,
            ct => readStore.GetPaymentAsync(request.PaymentId, ct), new PaymentRejection.PaymentNotFound(request.PaymentId), context);
        return new GetPaymentResponse { Payment = ToProto(view), Position = position };
    }

    public override async Task<SearchAccountsResponse> SearchAccounts(SearchAccountsRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("min_position", request.MinPosition);
        var text = QueryArguments.Text(errors, request.Query);
        var status = QueryArguments.Enum(errors, "status", request.Status, ToView);
        var currency = QueryArguments.Currency(errors, request.CurrencyCode);
        var order = QueryArguments.AccountOrderOf(errors, request.OrderBy, hasQuery: text.Length > 0);
        var (page, next, position) = await PageAsync(errors, new Paging(request.PageSize, request.PageToken, request.MinPosition),
            ["accounts", text, status, currency, order], v => SortValues.Fits(order, v),
            (size, after, ct) => readStore.SearchAccountsAsync(new AccountSearch(text, status, currency, order, size, after), ct), context);
        return new SearchAccountsResponse
        {
            Accounts = { page.Items.Select(ToProto) }, NextPageToken = next, TotalSize = page.TotalSize, Position = position,
        };
    }

    public override async Task<ListTransactionsResponse> ListTransactions(ListTransactionsRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().Id("account_id", request.AccountId).NotNegative("min_position", request.MinPosition);
        var (from, to) = QueryArguments.TimeRange(errors, request.StartTime, request.EndTime);
        var (page, next, position) = await PageAsync(errors, new Paging(request.PageSize, request.PageToken, request.MinPosition),
            ["transactions", request.AccountId, from, to], QueryArguments.FitsNumber,
            async (size, after, ct) =>
            {
                await MustExist(request.AccountId, context);
                return await readStore.ListTransactionsAsync(new TransactionQuery(request.AccountId, from, to, size, after), ct);
            }, context);
        return new ListTransactionsResponse { Transactions = { page.Items.Select(ToProto) }, NextPageToken = next, Position = position };
    }

    public override async Task<ListHoldsResponse> ListHolds(ListHoldsRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().Id("account_id", request.AccountId).NotNegative("min_position", request.MinPosition);
        var (page, next, position) = await PageAsync(errors, new Paging(request.PageSize, request.PageToken, request.MinPosition),
            // A hold's cursor is its placing time, as every store issues it (and as orders' and payments' are).
            ["holds", request.AccountId], QueryArguments.FitsTime,
            async (size, after, ct) =>
            {
                await MustExist(request.AccountId, context);
                return await readStore.ListHoldsAsync(new HoldQuery(request.AccountId, size, after), ct);
            }, context);
        return new ListHoldsResponse { Holds = { page.Items.Select(ToProto) }, NextPageToken = next, Position = position };
    }

    public override async Task<SummarizeTransactionsResponse> SummarizeTransactions(SummarizeTransactionsRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("min_position", request.MinPosition);
        var accountId = QueryArguments.OptionalId(errors, "account_id", request.AccountId);
        var currency = QueryArguments.Currency(errors, request.CurrencyCode);
        if (accountId is null && request.CurrencyCode.Length == 0)
            errors.Add("currency_code", "is required when account_id is empty (sums never mix currencies)");
        var (from, to) = QueryArguments.TimeRange(errors, request.StartTime, request.EndTime);
        var interval = request.Interval switch
        {
            Contracts.Query.V1.SummaryInterval.Unspecified or Contracts.Query.V1.SummaryInterval.Day => Application.ReadSide.SummaryInterval.Day,
            Contracts.Query.V1.SummaryInterval.Month => Application.ReadSide.SummaryInterval.Month,
            _ => Invalid(errors, "interval", "must be SUMMARY_INTERVAL_DAY or SUMMARY_INTERVAL_MONTH", Application.ReadSide.SummaryInterval.Day),
        };
        errors.ThrowIfAny();

        var position = await WaitFor(request.MinPosition, context);
        if (accountId is not null) await MustExist(accountId, context);
        Application.ReadSide.TransactionSummary summary;
        try
        {
            summary = await readStore.SummarizeTransactionsAsync(new SummaryQuery(accountId, currency, from, to, interval), context.CancellationToken);
        }
        catch (SumOutOfRangeException e)
        {
            throw ErrorMapper.Error(Google.Rpc.Code.OutOfRange, "SUM_OUT_OF_RANGE",
                $"{e.Message}; ask for a shorter period, one account or one currency");
        }
        return new SummarizeTransactionsResponse
        {
            Buckets = { summary.Buckets.Select(ToProto) },
            Totals = ToProto(summary.Totals),
            Position = position,
        };
    }

    public override async Task<SearchOrdersResponse> SearchOrders(SearchOrdersRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("min_position", request.MinPosition);
        var text = QueryArguments.Text(errors, request.Query);
        var status = QueryArguments.Enum(errors, "status", request.Status, ToView);
        var customer = QueryArguments.OptionalId(errors, "customer_account_id", request.CustomerAccountId);
        var merchant = QueryArguments.OptionalId(errors, "merchant_account_id", request.MerchantAccountId);
        var (page, next, position) = await PageAsync(errors, new Paging(request.PageSize, request.PageToken, request.MinPosition),
            ["orders", text, status, customer, merchant], QueryArguments.FitsTime,
            (size, after, ct) => readStore.SearchOrdersAsync(new OrderSearch(text, status, customer, merchant, size, after), ct), context);
        return new SearchOrdersResponse
        {
            Orders = { page.Items.Select(ToProto) }, NextPageToken = next, TotalSize = page.TotalSize, Position = position,
        };
    }

    public override async Task<SearchPaymentsResponse> SearchPayments(SearchPaymentsRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("min_position", request.MinPosition);
        var status = QueryArguments.Enum(errors, "status", request.Status, ToView);
        var account = QueryArguments.OptionalId(errors, "account_id", request.AccountId);
        var order = QueryArguments.OptionalId(errors, "order_id", request.OrderId);
        var (page, next, position) = await PageAsync(errors, new Paging(request.PageSize, request.PageToken, request.MinPosition),
            ["payments", status, account, order], QueryArguments.FitsTime,
            (size, after, ct) => readStore.SearchPaymentsAsync(new PaymentSearch(status, account, order, size, after), ct), context);
        return new SearchPaymentsResponse
        {
            Payments = { page.Items.Select(ToProto) }, NextPageToken = next, TotalSize = page.TotalSize, Position = position,
        };
    }

    private sealed record Paging(int PageSize, string PageToken, long MinPosition);

    /// <summary>
    /// The shared shape of every paged query: page size and token checked (the token against the request's
    /// <paramref name="filters"/> and order), all field errors reported at once, the wait for min_position, the query,
    /// and the next token bound to the same filters.
    /// </summary>
    private async Task<(Page<T> Page, string NextPageToken, long Position)> PageAsync<T>(
        FieldErrors errors, Paging paging, object?[] filters, Func<string, bool> fitsOrder,
        Func<int, SortKey?, CancellationToken, Task<Page<T>>> query, ServerCallContext context)
    {
        var pageSize = QueryArguments.PageSize(errors, paging.PageSize);
        var after = QueryArguments.After(errors, tokens, paging.PageToken, filters, fitsOrder);
        errors.ThrowIfAny();
        var position = await WaitFor(paging.MinPosition, context);
        var page = await query(pageSize, after, context.CancellationToken);
        return (page, QueryArguments.NextToken(tokens, page.NextAfter, filters), position);
    }

    private static T Invalid<T>(FieldErrors errors, string field, string description, T fallback)
    {
        errors.Add(field, description);
        return fallback;
    }

    /// <summary>A statement or summary of an unknown account is NOT_FOUND, not an empty answer.</summary>
    private async Task MustExist(string accountId, ServerCallContext context)
    {
        if (await readStore.GetAccountAsync(accountId, context.CancellationToken) is null)
            throw ErrorMapper.ToRpcException(new AccountRejection.AccountNotFound(accountId));
    }

    /// <summary>The shared shape of every lookup by id: fields checked, the wait for min_position, then the view or NOT_FOUND.</summary>
    private async Task<(T View, long Position)> GetAsync<T>(
        FieldErrors errors, long minPosition, Func<CancellationToken, Task<T?>> get, Rejection notFound, ServerCallContext context)
        where T : class
    {
        errors.NotNegative("min_position", minPosition).ThrowIfAny();
        var position = await WaitFor(minPosition, context);
        return (await get(context.CancellationToken) ?? throw ErrorMapper.ToRpcException(notFound), position);
    }

    private async Task<long> WaitFor(long minPosition, ServerCallContext context)
    {
        // Give up a little before the caller's deadline, so it hears why (UNAVAILABLE) rather than a bare timeout.
        var wait = context.Deadline == DateTime.MaxValue ? DefaultWait : context.Deadline - DateTime.UtcNow - DeadlineMargin;
        // Also as the server begins to stop: Kestrel's graceful stop waits for the calls in flight, and a read whose
        // position the read side does not reach would hold it for its whole deadline (or the host's 30 s shutdown
        // timeout, then be cut off); it gives up at once with the retryable READ_SIDE_BEHIND instead.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        // A deadline months away (a client's "no deadline") is longer than a timer takes: CancelAfter threw, and every
        // read with it, min_position or not, was INTERNAL. Such a wait ends at the longest a timer takes instead.
        limit.CancelAfter(wait < TimeSpan.Zero ? TimeSpan.Zero : wait > Setting.LongestWait ? Setting.LongestWait : wait);
        return await waiter.WaitForAsync(minPosition, limit.Token) switch
        {
            ReadSideWaiter.Outcome.Reached reached => reached.Position,
            ReadSideWaiter.Outcome.BeyondHead beyond => throw ErrorMapper.BeyondHead("min_position", minPosition, beyond.HeadPosition),
            ReadSideWaiter.Outcome.TooManyWaiting busy => throw ErrorMapper.Error(Google.Rpc.Code.ResourceExhausted, "TOO_MANY_WAITING_READS",
                $"{busy.Limit} reads are already waiting for the read side; retry shortly, or without min_position"),
            _ => throw ErrorMapper.Error(Google.Rpc.Code.Unavailable, "READ_SIDE_BEHIND",
                $"the read side has not reached position {minPosition} yet; retry later"),
        };
    }
}
