using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The event store as <see cref="CommandPathWarmUp"/> lets a command see it, so that command runs every step of an
/// accepted one and writes nothing: reads come from the real store; each append goes to the real store expecting a
/// version no stream can have, so the engine does all of its work up to the guard, which refuses it; and the append is
/// then answered as written, so the handler's own steps after a write run too. Snapshots are read, never saved (a state
/// the warm-up pretends to have written must never be kept).
/// </summary>
public sealed class WarmUpStore(IEventStore real) : IEventStore, ISnapshotStore
{
    /// <summary>Far above any stream's version, and far from overflowing when the engine adds an append's event count.</summary>
    private const long NoStreamHasIt = 1L << 60;

    private readonly List<RecordedEvent> written = [];

    /// <summary>The events it answered as written, as the relay would deliver them: in write order, positions from 1. None is stored.</summary>
    public IReadOnlyList<RecordedEvent> Written
    {
        get { lock (written) return [.. written]; }
    }

    public async Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct)
    {
        var refusable = request with { Streams = [.. request.Streams.Select(s => s with { ExpectedVersion = NoStreamHasIt })] };
        if (await real.AppendAsync(refusable, ct) is not AppendResult.WrongExpectedVersion)
            throw new InvalidOperationException("the warm-up's append was not refused by its guard");
        lock (written)
        {
            foreach (var stream in request.InWriteOrder())
                for (var i = 0; i < stream.Events.Count; i++)
                {
                    var e = stream.Events[i];
                    written.Add(new RecordedEvent(written.Count + 1, stream.StreamId, stream.ExpectedVersion + i + 1, e.EventId, e.EventType,
                        e.DataJson, e.MetadataJson, request.RecordedAt));
                }
            return new AppendResult.Appended(
                [.. request.Streams.Select(s => new StreamVersion(s.StreamId, s.ExpectedVersion + s.Events.Count))], written.Count);
        }
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        real.ReadStreamAsync(streamId, fromVersion, maxCount, ct);

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        real.ReadStreamBackwardAsync(streamId, fromVersion, maxCount, ct);

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        real.ReadAllAsync(afterPosition, maxCount, ct);

    public Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct) => real.FindRequestAsync(requestId, ct);

    public Task<IReadOnlyList<LoggedRequest?>> FindRequestsAsync(IReadOnlyList<string> requestIds, CancellationToken ct) =>
        real.FindRequestsAsync(requestIds, ct);

    /// <summary>Stores nothing, like the warm-up's appends.</summary>
    public Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct) => Task.FromResult(true);

    public Task<long> HeadPositionAsync(CancellationToken ct) => real.HeadPositionAsync(ct);

    public IOutbox Outbox => real.Outbox;

    public IDeadLetters DeadLetters => real.DeadLetters;

    public ISnapshotStore Snapshots => this;

    Task ISnapshotStore.SaveAsync(Snapshot snapshot, CancellationToken ct) => Task.CompletedTask;

    Task<Snapshot?> ISnapshotStore.LoadAsync(string streamId, string schema, long maxVersion, CancellationToken ct) =>
        real.Snapshots.LoadAsync(streamId, schema, maxVersion, ct);

    Task ISnapshotStore.DropAllAsync(CancellationToken ct) => throw new NotSupportedException("the warm-up never drops snapshots");
}
