using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// The read store everyone uses: the current generation, switched atomically by a rebuild. A query is never failed by a
/// switch: one that fails on the generation a switch takes readers from (a SQLite generation's file is deleted while
/// queries may still be on their way to it) is asked again of the new one (<see cref="ReadAsync{T}"/>).
/// </summary>
public sealed class SwitchableReadStore(IReadStoreGenerations generations) : IReadStore, IAsyncDisposable
{
    private volatile IReadStore current = generations.OpenCurrent();
    /// <summary>Set while <see cref="SwitchAsync"/> runs, completed when it ends.</summary>
    private volatile TaskCompletionSource? switching;

    public IReadStore Current => current;

    /// <summary>From now on every call goes to <paramref name="next"/>.</summary>
    public void SwitchTo(IReadStore next) => current = next;

    /// <summary>
    /// Runs <paramref name="switchGenerations"/> (which makes <paramref name="next"/> the serving generation and may drop
    /// the current one), then sends every call to <paramref name="next"/>. A query that fails meanwhile waits for it.
    /// </summary>
    public async Task SwitchAsync(IReadStore next, Func<Task> switchGenerations)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        switching = done;
        try
        {
            await switchGenerations();
            current = next;
        }
        finally
        {
            switching = null;
            done.SetResult();
        }
    }

    /// <summary>
    /// A query of the current generation; if it fails while a switch runs or after one took readers elsewhere, it is asked
    /// of the generation that then serves. A failure of the query's own (the same on either generation) still reaches the
    /// caller, and one with no switch about does at once.
    /// </summary>
    private async Task<T> ReadAsync<T>(Func<IReadStore, Task<T>> read)
    {
        var store = current;
        try
        {
            return await read(store);
        }
        catch (Exception) when (switching is not null || current != store)
        {
            if (switching is { } pending) await pending.Task;
            if (current == store) throw;
            return await read(current);
        }
    }

    public Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) => current.ApplyAsync(events, watermark, ct);
    public Task<long> AppliedPositionAsync(CancellationToken ct) => ReadAsync(s => s.AppliedPositionAsync(ct));
    public Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct) => ReadAsync(s => s.GetAccountAsync(accountId, ct));
    public Task<OrderView?> GetOrderAsync(string orderId, CancellationToken ct) => ReadAsync(s => s.GetOrderAsync(orderId, ct));
    public Task<PaymentView?> GetPaymentAsync(string paymentId, CancellationToken ct) => ReadAsync(s => s.GetPaymentAsync(paymentId, ct));
    public Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct) => ReadAsync(s => s.SearchAccountsAsync(query, ct));
    public Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct) => ReadAsync(s => s.ListTransactionsAsync(query, ct));
    public Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct) => ReadAsync(s => s.ListHoldsAsync(query, ct));
    public Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct) => ReadAsync(s => s.DueHoldsAsync(now, max, ct));
    public Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct) => ReadAsync(s => s.SummarizeTransactionsAsync(query, ct));
    public Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct) => ReadAsync(s => s.SearchOrdersAsync(query, ct));
    public Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct) => ReadAsync(s => s.SearchPaymentsAsync(query, ct));

    public async ValueTask DisposeAsync()
    {
        switch (current)
        {
            case IAsyncDisposable d: await d.DisposeAsync(); break;
            case IDisposable d: d.Dispose(); break;
        }
    }
}
