using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Application.Commands;

/// <summary>
/// The event store with each append in its own span and timed in <c>grpcbank.append.duration</c>; everything else
/// passes through. The command handlers write through it, so a retry shows as one more append span.
/// </summary>
public sealed class TracedEventStore(IEventStore inner) : IEventStore
{
    public async Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct)
    {
        using var activity = Telemetry.StartSpan("event store append");
        activity?.SetTag("grpcbank.stream_id", string.Join(",", request.Streams.Select(s => s.StreamId)));
        activity?.SetTag("grpcbank.event_count", request.Streams.Sum(s => s.Events.Count));
        if (request.Streams is [var single]) activity?.SetTag("grpcbank.expected_version", single.ExpectedVersion);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await inner.AppendAsync(request, ct);
            var name = NameOf(result);
            Record(started, name);
            activity?.SetTag("grpcbank.append_result", name);
            if (result is AppendResult.Appended a)
            {
                activity?.SetTag("grpcbank.position", a.Position);
                if (a.Versions is [var version]) activity?.SetTag("grpcbank.stream_version", version.Version);
            }
            return result;
        }
        catch (Exception e)
        {
            Record(started, "error");
            activity.Failed(e);
            throw;
        }
    }

    public async Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct)
    {
        using var activity = Telemetry.StartSpan("event store append group");
        activity?.SetTag("grpcbank.append_count", requests.Count);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var results = await inner.AppendGroupAsync(requests, ct);
            foreach (var result in results) Record(started, NameOf(result));
            return results;
        }
        catch (Exception e)
        {
            // Every append of the group failed with it: one measurement each, as each has one when the group is written.
            foreach (var _ in requests) Record(started, "error");
            activity.Failed(e);
            throw;
        }
    }

    private static string NameOf(AppendResult result) => result switch
    {
        AppendResult.Appended => "appended",
        AppendResult.WrongExpectedVersion => "conflict",
        AppendResult.DuplicateRequest => "duplicate_request",
        _ => throw new ArgumentOutOfRangeException(nameof(result), result, null),
    };

    private static void Record(long started, string result)
    {
        if (!Telemetry.IsUnrecorded) Telemetry.AppendDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("result", result));
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        inner.ReadStreamAsync(streamId, fromVersion, maxCount, ct);

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        inner.ReadStreamBackwardAsync(streamId, fromVersion, maxCount, ct);

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        inner.ReadAllAsync(afterPosition, maxCount, ct);

    public Task<IReadOnlyList<RecordedEvent>> ReadAllWithoutMetadataAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        inner.ReadAllWithoutMetadataAsync(afterPosition, maxCount, ct);

    public Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct) => inner.FindRequestAsync(requestId, ct);

    public Task<IReadOnlyList<LoggedRequest?>> FindRequestsAsync(IReadOnlyList<string> requestIds, CancellationToken ct) =>
        inner.FindRequestsAsync(requestIds, ct);

    public Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct) => inner.LogRequestAsync(request, position, ct);

    public Task<long> HeadPositionAsync(CancellationToken ct) => inner.HeadPositionAsync(ct);

    public IOutbox Outbox => inner.Outbox;

    public IDeadLetters DeadLetters => inner.DeadLetters;

    public ISnapshotStore Snapshots => inner.Snapshots;
}
