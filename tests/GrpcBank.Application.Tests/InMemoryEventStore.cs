using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The event store port in memory, with the guarantees the command path relies on: an append is all or nothing,
/// checked against the stream's version and the request log's unique key. It counts what the handler asks of it
/// and lets a test slip in another writer's append just before the handler's.
/// </summary>
public sealed class InMemoryEventStore : IEventStore
{
    private readonly object gate = new();
    private readonly List<RecordedEvent> all = [];
    private readonly Dictionary<string, LoggedRequest> requests = new(StringComparer.Ordinal);

    /// <summary>Runs before each append the store is asked for, outside its lock: another writer's chance to get there first.</summary>
    public Func<AppendRequest, Task>? BeforeAppend { get; set; }

    /// <summary>Every append asked for, whatever its result.</summary>
    public List<AppendRequest> AppendsAsked { get; } = [];

    public int StreamReads { get; private set; }

    /// <summary>The version each stream read started from, in order.</summary>
    public List<long> StreamReadsFrom { get; } = [];

    /// <summary>The snapshot port in memory.</summary>
    public InMemorySnapshotStore Snapshots { get; } = new();

    ISnapshotStore IEventStore.Snapshots => Snapshots;

    private readonly GroupCommit? groups;

    /// <param name="grouped">
    /// Appends go through a <see cref="GroupCommit"/>, as in the real engines: gathered in submission order, each group
    /// written by one writer (after <see cref="BeforeGroup"/>), every caller answered once its group is written.
    /// </param>
    public InMemoryEventStore(bool grouped = false)
    {
        if (grouped) groups = new GroupCommit(WriteGroupAsync, _ => false, GroupCommitLimits.Default);
    }

    /// <summary>With <c>grouped</c>: runs before each group is written, so a test can hold appends handed to the store unanswered.</summary>
    public Func<IReadOnlyList<AppendRequest>, Task>? BeforeGroup { get; set; }

    public async Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct)
    {
        lock (gate) AppendsAsked.Add(request);
        if (groups is not null) return await groups.AppendAsync(request, ct);
        if (BeforeAppend is { } before) await before(request);
        return Append(request);
    }

    /// <summary>Groups handed over whole (<see cref="IEventStore.AppendGroupAsync"/>), each written in one piece (queued as one unit with <c>grouped</c>).</summary>
    public List<IReadOnlyList<AppendRequest>> GroupsAsked { get; } = [];

    public async Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct)
    {
        lock (gate)
        {
            GroupsAsked.Add(requests);
            AppendsAsked.AddRange(requests);
        }
        return groups is not null ? await groups.AppendGroupAsync(requests, ct) : await WriteGroupAsync(requests, ct);
    }

    private async Task<IReadOnlyList<AppendResult>> WriteGroupAsync(IReadOnlyList<AppendRequest> group, CancellationToken ct)
    {
        if (BeforeGroup is { } before) await before(group);
        return [.. group.Select(Append)];
    }

    /// <summary>An append by someone other than the handler under test (another server, say).</summary>
    public AppendResult Append(AppendRequest request)
    {
        var streams = request.InWriteOrder();
        lock (gate)
        {
            foreach (var stream in streams)
                if (VersionOf(stream.StreamId) != stream.ExpectedVersion
                    || (stream.ExpectedLastEventId is { } last && all.LastOrDefault(e => e.StreamId == stream.StreamId)?.EventId != last))
                    return new AppendResult.WrongExpectedVersion(stream.StreamId, stream.ExpectedVersion);
            // Every row of the append, an atomic batch's too (MoreRequests), as the stores' unique key refuses any of them.
            if (request.RequestLogEntries.FirstOrDefault(r => requests.ContainsKey(r.RequestId)) is { } logged)
                return new AppendResult.DuplicateRequest(logged.RequestId);
            var versions = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var stream in streams)
            {
                var version = stream.ExpectedVersion;
                foreach (var e in stream.Events)
                    all.Add(new RecordedEvent(all.Count + 1, stream.StreamId, ++version, e.EventId, e.EventType, e.DataJson, e.MetadataJson, request.RecordedAt));
                versions[stream.StreamId] = version;
            }
            foreach (var entry in request.RequestLogEntries)
                requests[entry.RequestId] = new LoggedRequest(entry.RequestId, entry.Fingerprint, entry.ReplyJson, all.Count);
            return new AppendResult.Appended([.. request.Streams.Select(s => new StreamVersion(s.StreamId, versions[s.StreamId]))], all.Count);
        }
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct)
    {
        lock (gate)
        {
            StreamReads++;
            StreamReadsFrom.Add(fromVersion);
            return Task.FromResult<IReadOnlyList<RecordedEvent>>(
                all.Where(e => e.StreamId == streamId && e.StreamVersion >= fromVersion).Take(maxCount).ToList());
        }
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct)
    {
        lock (gate)
            return Task.FromResult<IReadOnlyList<RecordedEvent>>(
                all.Where(e => e.StreamId == streamId && e.StreamVersion <= fromVersion).Reverse().Take(maxCount).ToList());
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct)
    {
        lock (gate) return Task.FromResult<IReadOnlyList<RecordedEvent>>(all.Skip((int)afterPosition).Take(maxCount).ToList());
    }

    public Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct)
    {
        lock (gate) return Task.FromResult(requests.TryAdd(request.RequestId, new LoggedRequest(request.RequestId, request.Fingerprint, request.ReplyJson, position)));
    }

    public Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct)
    {
        lock (gate) return Task.FromResult(requests.GetValueOrDefault(requestId));
    }

    public Task<long> HeadPositionAsync(CancellationToken ct)
    {
        lock (gate) return Task.FromResult((long)all.Count);
    }

    /// <summary>The events of one stream, oldest first.</summary>
    public IReadOnlyList<RecordedEvent> Stream(string streamId)
    {
        lock (gate) return all.Where(e => e.StreamId == streamId).ToList();
    }

    public int RequestLogSize
    {
        get { lock (gate) return requests.Count; }
    }

    public IOutbox Outbox => throw new NotSupportedException("the command path does not use the outbox; tests read positions instead");

    public IDeadLetters DeadLetters => throw new NotSupportedException("the command path does not dead-letter");

    private long VersionOf(string streamId) => all.LastOrDefault(e => e.StreamId == streamId)?.StreamVersion ?? 0;
}
