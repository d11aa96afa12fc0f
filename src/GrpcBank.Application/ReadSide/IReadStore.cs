using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.ReadSide;

/// <summary>The read side's storage port. Applying is idempotent: an older write never overwrites a newer one.</summary>
public interface IReadStore
{
    /// <summary>Applies events and records the watermark, atomically.</summary>
    Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct);

    /// <summary>Every committed event up to this position is reflected.</summary>
    Task<long> AppliedPositionAsync(CancellationToken ct);

    Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct);

    Task<OrderView?> GetOrderAsync(string orderId, CancellationToken ct);

    Task<PaymentView?> GetPaymentAsync(string paymentId, CancellationToken ct);

    Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct);

    Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct);

    Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct);

    Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct);

    Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct);

    Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct);

    /// <summary>
    /// Active holds whose expiry is at or before <paramref name="now"/>, soonest expiry first, at most <paramref name="max"/>:
    /// the durable expiry index the bank releases expired holds from (<see cref="Accounts.HoldExpiry"/>).
    /// </summary>
    Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct);
}
