namespace GrpcBank.Application.EventStore;

/// <summary>
/// The write side's storage port. Events, their outbox rows and the request-log row of one
/// append are written in one transaction; the database itself enforces
/// UNIQUE(stream_id, stream_version) and UNIQUE(event_id).
/// </summary>
public interface IEventStore
{
    /// <summary>Appends events after <paramref name="expectedVersion"/> (0: the stream must be new).</summary>
    Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct);

    /// <summary>Events of one stream with version ≥ <paramref name="fromVersion"/>, oldest first.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct);

    /// <summary>Events of one stream with version ≤ <paramref name="fromVersion"/>, newest first.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct);

    /// <summary>
    /// Committed events after <paramref name="afterPosition"/> in position order, never skipping one that
    /// commits late: only events whose position can no longer be preceded by an unseen commit are returned.
    /// </summary>
    Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct);

    /// <summary>The request log entry for an idempotency key, if a command with it succeeded.</summary>
    Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct);

    /// <summary>The newest committed position (0 for an empty store).</summary>
    Task<long> HeadPositionAsync(CancellationToken ct);

    /// <summary>The outbox: appended events not yet handed to every sink.</summary>
    IOutbox Outbox { get; }

    /// <summary>Events the relay's consumers could not handle.</summary>
    Relay.IDeadLetters DeadLetters { get; }
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

public sealed record AppendRequest(
    string StreamId,
    long ExpectedVersion,
    IReadOnlyList<EventData> Events,
    RequestLogEntry? Request,
    DateTimeOffset RecordedAt);

public abstract record AppendResult
{
    private AppendResult() { }

    /// <summary>Written: the stream's new version and the global position of the last event.</summary>
    public sealed record Appended(long Version, long Position) : AppendResult;

    /// <summary>Another writer got there first; nothing was written.</summary>
    public sealed record WrongExpectedVersion(long ExpectedVersion) : AppendResult;

    /// <summary>The request id was logged by a concurrent append; nothing was written.</summary>
    public sealed record DuplicateRequest(string RequestId) : AppendResult;
}
