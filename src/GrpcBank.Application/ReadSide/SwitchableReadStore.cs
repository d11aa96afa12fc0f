using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.ReadSide;

/// <summary>The read store everyone uses: the current generation, switched atomically by a rebuild.</summary>
public sealed class SwitchableReadStore(IReadStoreGenerations generations) : IReadStore, IAsyncDisposable
{
    private volatile IReadStore current = generations.OpenCurrent();

    public IReadStore Current => current;

    /// <summary>From now on every call goes to <paramref name="next"/>.</summary>
    public void SwitchTo(IReadStore next) => current = next;

    public Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) => current.ApplyAsync(events, watermark, ct);
    public Task<long> AppliedPositionAsync(CancellationToken ct) => current.AppliedPositionAsync(ct);
    public Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct) => current.GetAccountAsync(accountId, ct);
    public Task<OrderView?> GetOrderAsync(string orderId, CancellationToken ct) => current.GetOrderAsync(orderId, ct);
    public Task<PaymentView?> GetPaymentAsync(string paymentId, CancellationToken ct) => current.GetPaymentAsync(paymentId, ct);
    public Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct) => current.SearchAccountsAsync(query, ct);
    public Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct) => current.ListTransactionsAsync(query, ct);

    public Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct) => current.ListHoldsAsync(query, ct);

    public Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct) => current.DueHoldsAsync(now, max, ct);
    public Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct) => current.SummarizeTransactionsAsync(query, ct);
    public Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct) => current.SearchOrdersAsync(query, ct);
    public Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct) => current.SearchPaymentsAsync(query, ct);

    public async ValueTask DisposeAsync()
    {
        switch (current)
        {
            case IAsyncDisposable d: await d.DisposeAsync(); break;
            case IDisposable d: d.Dispose(); break;
        }
    }
}
