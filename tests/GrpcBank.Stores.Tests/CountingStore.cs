using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Stores.Tests;

/// <summary>
/// The store as it is, every call passed through, counting what the tests watch: the relay's outbox reads, reads of the
/// global order, and appends refused for a stale version.
/// </summary>
internal sealed class CountingStore(IEventStore inner) : IEventStore, IOutbox
{
    private int outboxReads;
    private int globalReads;
    private int refusals;

    public int OutboxReads => Volatile.Read(ref outboxReads);

    public int GlobalReads => Volatile.Read(ref globalReads);

    public int Refusals => Volatile.Read(ref refusals);

    public IOutbox Outbox => this;
    public IDeadLetters DeadLetters => inner.DeadLetters;
    public ISnapshotStore Snapshots => inner.Snapshots;

    public async Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct)
    {
        var result = await inner.AppendAsync(request, ct);
        if (result is AppendResult.WrongExpectedVersion) Interlocked.Increment(ref refusals);
        return result;
    }

    public Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct) => inner.AppendGroupAsync(requests, ct);
    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        inner.ReadStreamAsync(streamId, fromVersion, maxCount, ct);
    public Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        inner.ReadStreamBackwardAsync(streamId, fromVersion, maxCount, ct);

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct)
    {
        Interlocked.Increment(ref globalReads);
        return inner.ReadAllAsync(afterPosition, maxCount, ct);
    }

    /// <summary>Awaited, with the position read after, before each read of the global order without metadata (a replay's page).</summary>
    public Func<long, Task>? BeforeReadWithoutMetadata { get; init; }

    public async Task<IReadOnlyList<RecordedEvent>> ReadAllWithoutMetadataAsync(long afterPosition, int maxCount, CancellationToken ct)
    {
        Interlocked.Increment(ref globalReads);
        if (BeforeReadWithoutMetadata is { } before) await before(afterPosition);
        return await inner.ReadAllWithoutMetadataAsync(afterPosition, maxCount, ct);
    }

    public Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct) => inner.FindRequestAsync(requestId, ct);
    public Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct) => inner.LogRequestAsync(request, position, ct);
    public Task<long> HeadPositionAsync(CancellationToken ct) => inner.HeadPositionAsync(ct);

    public Task<OutboxBatch> ReadPendingAsync(string consumer, int maxCount, CancellationToken ct)
    {
        Interlocked.Increment(ref outboxReads);
        return inner.Outbox.ReadPendingAsync(consumer, maxCount, ct);
    }

    public Task CompleteAsync(string consumer, OutboxBatch batch, CancellationToken ct) => inner.Outbox.CompleteAsync(consumer, batch, ct);
    /// <summary>While set, every trim fails, as in an outage (a full disk, the database down).</summary>
    public volatile bool TrimsFail;

    public Task TrimAsync(IReadOnlyCollection<string> consumers, CancellationToken ct) =>
        TrimsFail ? throw new IOException("no space left on device") : inner.Outbox.TrimAsync(consumers, ct);
    public Task<long> CheckpointAsync(string consumer, CancellationToken ct) => inner.Outbox.CheckpointAsync(consumer, ct);
    public Task<long?> SkippedFromAsync(string consumer, CancellationToken ct) => inner.Outbox.SkippedFromAsync(consumer, ct);
    public Task SetSkippedFromAsync(string consumer, long? from, CancellationToken ct) => inner.Outbox.SetSkippedFromAsync(consumer, from, ct);
    public Task WaitForPendingAsync(string consumer, TimeSpan timeout, CancellationToken ct) => inner.Outbox.WaitForPendingAsync(consumer, timeout, ct);
    public Task WaitForPendingAsync(string consumer, OutboxBatch read, TimeSpan timeout, CancellationToken ct) =>
        inner.Outbox.WaitForPendingAsync(consumer, read, timeout, ct);
}
