namespace GrpcBank.Application.EventStore;

/// <summary>
/// The write side's storage port. Events, their outbox rows and the request-log row of one
/// append are written in one transaction; the database itself enforces
/// UNIQUE(stream_id, stream_version) and UNIQUE(event_id).
/// </summary>
public interface IEventStore
{
    /// <summary>
    /// Appends to one or more streams in one transaction, all or nothing: each stream's events go after its expected
    /// version (0: the stream must be new), or nothing at all is written. Streams are written in the order of
    /// <see cref="AppendRequest.InWriteOrder"/>.
    /// </summary>
    Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct);

    /// <summary>
    /// Writes several appends in one transaction and one commit (group commit), each still all or nothing on its own:
    /// a guard that fails (a wrong expected version, a request id already logged) fails only that append, and the
    /// others are written. Results come in the order of <paramref name="requests"/>, and each append sees the ones
    /// before it: two appends to one stream chain (the second expects the first's new version), and the second use of a
    /// request id is a <see cref="AppendResult.DuplicateRequest"/>. Nothing is acknowledged before the commit. An error
    /// the database raises (not a guard) is thrown for the whole group, of which nothing is then written: as a
    /// <see cref="GroupRefusedException"/> (the database's error inside) when the group holds more than one append.
    /// </summary>
    /// <remarks>
    /// Engines also gather concurrent <see cref="AppendAsync"/> calls into such groups (<see cref="GroupCommit"/>), and
    /// queue these appends with them as one unit: an append resting on one not yet committed (a decision taken on an
    /// unsettled append) is written after it. The relay may receive one group's events as one append: they were
    /// committed together.
    /// </remarks>
    async Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct)
    {
        var results = new List<AppendResult>(requests.Count);
        foreach (var request in requests) results.Add(await AppendAsync(request, ct));
        return results;
    }

    /// <summary>Events of one stream with version ≥ <paramref name="fromVersion"/>, oldest first.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct);

    /// <summary>Events of one stream with version ≤ <paramref name="fromVersion"/>, newest first.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct);

    /// <summary>
    /// Committed events after <paramref name="afterPosition"/> in position order, never skipping one that
    /// commits late: only events whose position can no longer be preceded by an unseen commit are returned.
    /// </summary>
    Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct);

    /// <summary>
    /// <see cref="ReadAllAsync"/> for a reader that folds payloads only (a replay of the read side): an engine may leave
    /// <see cref="RecordedEvent.MetadataJson"/> as <c>{}</c>, sparing the database rendering every event's metadata.
    /// </summary>
    Task<IReadOnlyList<RecordedEvent>> ReadAllWithoutMetadataAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        ReadAllAsync(afterPosition, maxCount, ct);

    /// <summary>The request log entry for an idempotency key, if a command with it succeeded.</summary>
    Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct);

    /// <summary>
    /// <see cref="FindRequestAsync"/> for many keys at once (the commands of a batch), in their order: null where none is
    /// logged. An engine whose lookup is a round trip answers them all in one.
    /// </summary>
    async Task<IReadOnlyList<LoggedRequest?>> FindRequestsAsync(IReadOnlyList<string> requestIds, CancellationToken ct)
    {
        var found = new List<LoggedRequest?>(requestIds.Count);
        foreach (var id in requestIds) found.Add(await FindRequestAsync(id, ct));
        return found;
    }

    /// <summary>
    /// Logs a request accepted without writing an event (a no-op: the account is already frozen), durably, with the
    /// position its reply names; false, and nothing written, when the id is logged already.
    /// </summary>
    Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct);

    /// <summary>The newest committed position (0 for an empty store).</summary>
    Task<long> HeadPositionAsync(CancellationToken ct);

    /// <summary>The outbox: appended events not yet handed to every sink.</summary>
    IOutbox Outbox { get; }

    /// <summary>Events the relay's consumers could not handle.</summary>
    Relay.IDeadLetters DeadLetters { get; }

    /// <summary>Folded states kept beside the events to shorten long folds; a store without them folds from the start.</summary>
    ISnapshotStore Snapshots => NoSnapshots.Instance;
}

public sealed record EventData(Guid EventId, string EventType, string DataJson, string MetadataJson);

public sealed record RecordedEvent(
    long Position,
    string StreamId,
    long StreamVersion,
    Guid EventId,
    string EventType,
    string DataJson,
    string MetadataJson,
    DateTimeOffset RecordedAt);

/// <summary>An idempotency key with the fingerprint of the request it was first used for and the reply given.</summary>
public sealed record RequestLogEntry(string RequestId, string Fingerprint, string ReplyJson);

/// <summary>A request log entry as stored, with the position of the last event its command wrote.</summary>
public sealed record LoggedRequest(string RequestId, string Fingerprint, string ReplyJson, long Position);

/// <summary>One stream's part of an append: its events go after <paramref name="ExpectedVersion"/> (0: a new stream).</summary>
public sealed record StreamAppend(string StreamId, long ExpectedVersion, IReadOnlyList<EventData> Events)
{
    /// <summary>
    /// When set, the stream's event at <see cref="ExpectedVersion"/> must also be this one, or the append is a
    /// <see cref="AppendResult.WrongExpectedVersion"/>. A decision taken on a state that includes an earlier append not
    /// yet committed (<see cref="Commands.Unsettled{TState}"/>) sets it to that append's last event: should the earlier
    /// append fail while another writer brings the stream to the same version, this one fails too instead of resting on
    /// events that were never written.
    /// </summary>
    public Guid? ExpectedLastEventId { get; init; }
}

/// <summary>
/// Events for one or more streams, each guarded by its own expected version, and at most one request-log row, written
/// in one transaction. The request-log row takes the position of the append's last event.
/// </summary>
public sealed record AppendRequest(IReadOnlyList<StreamAppend> Streams, RequestLogEntry? Request, DateTimeOffset RecordedAt)
{
    /// <summary>An append to a single stream.</summary>
    public AppendRequest(string streamId, long expectedVersion, IReadOnlyList<EventData> events, RequestLogEntry? request, DateTimeOffset recordedAt)
        : this([new StreamAppend(streamId, expectedVersion, events)], request, recordedAt)
    {
    }

    /// <summary>
    /// Further request-log rows, for an append that carries several commands (an atomic batch): each is logged at the
    /// append's last position, and the append is a <see cref="AppendResult.DuplicateRequest"/> if any one is logged already.
    /// </summary>
    public IReadOnlyList<RequestLogEntry> MoreRequests { get; init; } = [];

    /// <summary>Every request-log row of this append: <see cref="Request"/>, then <see cref="MoreRequests"/>.</summary>
    public IEnumerable<RequestLogEntry> RequestLogEntries => Request is null ? MoreRequests : [Request, .. MoreRequests];

    /// <summary>
    /// What two appends written in one transaction must not share to be checked side by side: the streams they write
    /// and the request ids they log (prefixed <c>s:</c> and <c>r:</c> to keep the two apart). Appends sharing one are
    /// written one after the other, in submission order.
    /// </summary>
    public IEnumerable<string> OrderingKeys =>
        Streams.Select(s => "s:" + s.StreamId).Concat(RequestLogEntries.Select(r => "r:" + r.RequestId));

    /// <summary>
    /// The streams in the one order every engine writes them: by ordinal stream id. Two appends over the same streams
    /// then take their row locks in the same order, whatever order their callers listed the streams in, so they can
    /// never deadlock (A→B against B→A); positions within an append follow this order too.
    /// </summary>
    /// <exception cref="ArgumentException">No stream, a stream without events, or a stream listed twice.</exception>
    public IReadOnlyList<StreamAppend> InWriteOrder()
    {
        if (Streams.Count == 0) throw new ArgumentException("an append needs at least one stream", nameof(Streams));
        var ordered = Streams.OrderBy(s => s.StreamId, StringComparer.Ordinal).ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            if (ordered[i].Events.Count == 0)
                throw new ArgumentException($"the append to {ordered[i].StreamId} has no events", nameof(Streams));
            if (i > 0 && ordered[i].StreamId == ordered[i - 1].StreamId)
                throw new ArgumentException($"{ordered[i].StreamId} is listed twice in one append", nameof(Streams));
        }
        return ordered;
    }
}

/// <summary>A stream's version after an append.</summary>
public sealed record StreamVersion(string StreamId, long Version);

public abstract record AppendResult
{
    private AppendResult() { }

    /// <summary>Written: each stream's new version (in the order of the request) and the global position of the last event.</summary>
    public sealed record Appended(IReadOnlyList<StreamVersion> Versions, long Position) : AppendResult
    {
        /// <summary>The new version of the stream of a single-stream append.</summary>
        public long Version => Versions.Count == 1
            ? Versions[0].Version
            : throw new InvalidOperationException($"a multi-stream append has a version per stream ({Versions.Count}); use VersionOf");

        public long VersionOf(string streamId) =>
            Versions.FirstOrDefault(v => v.StreamId == streamId)?.Version
            ?? throw new ArgumentException($"{streamId} was not part of this append", nameof(streamId));
    }

    /// <summary>Another writer got to <paramref name="StreamId"/> first (or it is not at that version); nothing was written to any stream.</summary>
    public sealed record WrongExpectedVersion(string StreamId, long ExpectedVersion) : AppendResult;

    /// <summary>The request id (the first of the append's that was) was logged by another append; nothing was written.</summary>
    public sealed record DuplicateRequest(string RequestId) : AppendResult;
}
