using System.Diagnostics;

namespace GrpcBank.Application.EventStore;

/// <summary>How an engine gathers concurrent appends into groups written in one transaction.</summary>
/// <param name="MaxAppends">Appends in one group at most; appends queued as one unit (<see cref="GroupCommit.AppendGroupAsync"/>) that are more go alone.</param>
/// <param name="MaxBytes">Event data, metadata and logged replies (UTF-16 characters, roughly bytes) in one group at most; a single larger append (or unit) goes alone.</param>
/// <param name="MaxGroupsInFlight">Groups being written at once: more than one lets a group's commit overlap the next group's round trip.</param>
public sealed record GroupCommitLimits(int MaxAppends = 256, int MaxBytes = 1 << 20, int MaxGroupsInFlight = 1)
{
    public static GroupCommitLimits Default { get; } = new();
}

/// <summary>
/// Group commit: appends that arrive while a group is being written wait for the next group, which takes all of them
/// (up to the limits) in one transaction. Adaptive: a caller that finds fewer than
/// <see cref="GroupCommitLimits.MaxGroupsInFlight"/> groups being written writes its own group at once, on its own
/// thread, so a lone caller never waits for company; under load the groups grow by themselves, with no timer.
/// </summary>
/// <remarks>
/// Every caller is answered only after its group's write returned (committed, or failed): nothing is acknowledged
/// before it is durable. A guard failing fails only its own append (the engine's group write reports it as that
/// append's result). When the database refuses the group as a whole and so wrote none of it
/// (<paramref name="wroteNothing"/>), each append is written again alone, so the error reaches only the append that
/// caused it; any other failure (a lost connection: the commit's outcome is unknown) fails every append of the group,
/// as it would a lone append. A caller's cancellation token does not cancel a group other callers share.
/// </remarks>
/// <param name="maxChain">
/// How many appends sharing a stream or a request id one group may hold, each chained on the one before it (default:
/// no limit). One that would pass it waits for a later group (and holds back those behind it that share with it), so
/// an engine that checks a group's guards with one set-based statement per link (<c>GroupLayers</c> on PostgreSQL)
/// writes at most this many statements for chains, however long a hot stream's queue: a hot stream then advances by
/// this many appends per group commit instead of one, for a statement more per link in the group's one round trip.
/// </param>
public sealed class GroupCommit(
    Func<IReadOnlyList<AppendRequest>, CancellationToken, Task<IReadOnlyList<AppendResult>>> writeGroup,
    Func<Exception, bool> wroteNothing,
    GroupCommitLimits limits,
    int maxChain = int.MaxValue)
{
    private readonly Lock gate = new();
    private readonly LinkedList<Pending> queue = new();
    private int writers;

    // The streams and request ids of the groups being written, with how many such groups hold each: with more than one
    // group in flight, an append sharing one of them waits for that group's write to end (its guard expects what that
    // group appends, and two transactions on one stream would race on its version), as do those queued behind it on it.
    private readonly Dictionary<string, int> inFlight = new(StringComparer.Ordinal);

    public async Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct) => (await AppendGroupAsync([request], ct))[0];

    /// <summary>
    /// Appends that must be written in one transaction (an independent batch's, which may chain on one stream): queued
    /// as one unit, never split across groups, and held back like a single append while an earlier one shares a key.
    /// </summary>
    /// <exception cref="ArgumentException">An append without streams or events, or with a stream twice (<see cref="AppendRequest.InWriteOrder"/>):
    /// it fails its own caller here, before it could share a group.</exception>
    public async Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        foreach (var request in requests) request.InWriteOrder();
        var pending = new Pending(requests);
        bool write;
        lock (gate)
        {
            queue.AddLast(pending);
            write = writers < limits.MaxGroupsInFlight;
            if (write) writers++;
        }
        if (write) await WriteUntilAnsweredAsync(pending);
        return await pending.Answer.Task;
    }

    /// <summary>Writes groups until <paramref name="mine"/> is answered, then hands what is left to a pool thread.</summary>
    private async Task WriteUntilAnsweredAsync(Pending mine)
    {
        while (true)
        {
            var group = TakeGroup();
            if (group is null) return;
            await WriteTakenAsync(group);
            if (mine.Answer.Task.IsCompleted)
            {
                // Later arrivals should not wait for this caller to finish; it keeps its writer slot only while it writes.
                if (TakeGroup() is { } next) _ = Task.Run(() => ContinueAsync(next));
                return;
            }
        }
    }

    private async Task ContinueAsync(List<Pending> group)
    {
        for (var next = group; next is not null; next = TakeGroup()) await WriteTakenAsync(next);
    }

    /// <summary>
    /// The oldest waiting appends within the limits that share no stream or request id with a group being written, or
    /// null (and the writer slot given back) when none wait or all of them wait for such a group: its writer takes them
    /// up when its write ends.
    /// </summary>
    private List<Pending>? TakeGroup()
    {
        lock (gate)
        {
            var group = new List<Pending>();
            var (appends, bytes) = (0, 0L);
            // For each stream and request id of the appends looked at so far, the length of its chain in the group
            // (maxChain once one sharing it was held back: those behind it wait too, in queue order).
            var chained = maxChain == int.MaxValue ? null : new Dictionary<string, int>(StringComparer.Ordinal);
            // The streams and request ids of appends left to wait for a group being written: those behind them on one wait too.
            var waiting = inFlight.Count == 0 ? null : new HashSet<string>(StringComparer.Ordinal);
            for (var node = queue.First; node is not null && appends < limits.MaxAppends;)
            {
                var (pending, next) = (node.Value, node.Next);
                if (waiting is not null && pending.Keys.Any(k => inFlight.ContainsKey(k) || waiting.Contains(k)))
                {
                    waiting.UnionWith(pending.Keys);
                    node = next;
                    continue;
                }
                var link = chained is null ? 1 : 1 + pending.Keys.Select(k => chained.GetValueOrDefault(k)).DefaultIfEmpty(0).Max();
                if (link <= maxChain)
                {
                    if (group.Count > 0 && (bytes + pending.Bytes > limits.MaxBytes || appends + pending.Requests.Count > limits.MaxAppends)) break;
                    queue.Remove(node);
                    group.Add(pending);
                    appends += pending.Requests.Count;
                    bytes += pending.Bytes;
                }
                if (chained is not null) foreach (var key in pending.Keys) chained[key] = Math.Min(link, maxChain);
                node = next;
            }
            if (group.Count == 0)
            {
                writers--;
                return null;
            }
            if (limits.MaxGroupsInFlight > 1)
                foreach (var key in group.SelectMany(p => p.Keys)) inFlight[key] = inFlight.GetValueOrDefault(key) + 1;
            return group;
        }
    }

    /// <summary>Writes a group <see cref="TakeGroup"/> took, then lets the appends that wait for its streams and request ids go.</summary>
    private async Task WriteTakenAsync(List<Pending> group)
    {
        try
        {
            await WriteAsync(group);
        }
        finally
        {
            if (limits.MaxGroupsInFlight > 1)
                lock (gate)
                    foreach (var key in group.SelectMany(p => p.Keys))
                        if (--inFlight[key] == 0) inFlight.Remove(key);
        }
    }

    private async Task WriteAsync(List<Pending> group)
    {
        var (appends, startedAt) = (group.Sum(p => p.Requests.Count), Stopwatch.GetTimestamp());
        try
        {
            var results = await writeGroup([.. group.SelectMany(p => p.Requests)], CancellationToken.None);
            var offset = 0;
            foreach (var pending in group)
            {
                pending.Answer.TrySetResult([.. results.Skip(offset).Take(pending.Requests.Count)]);
                offset += pending.Requests.Count;
            }
            Record(group, appends, startedAt, "written");
        }
        catch (Exception e) when (group.Count > 1 && wroteNothing(e))
        {
            Record(group, appends, startedAt, "refused");
            foreach (var pending in group) await WriteAsync([pending]);
        }
        catch (Exception e)
        {
            // A unit the database refused alone cannot be split here (its appends may chain): its caller hears that
            // nothing of it was written, and may write its appends one by one.
            var refused = wroteNothing(e);
            Record(group, appends, startedAt, refused ? "refused" : "failed");
            foreach (var pending in group) pending.Answer.TrySetException(refused && pending.Requests.Count > 1 ? new GroupRefusedException(e) : e);
        }
    }

    private static void Record(List<Pending> group, int appends, long startedAt, string result)
    {
        if (!group.TrueForAll(p => p.Unrecorded)) Telemetry.RecordGroup(appends, startedAt, result);
    }

    private sealed class Pending(IReadOnlyList<AppendRequest> requests)
    {
        public IReadOnlyList<AppendRequest> Requests { get; } = requests;

        /// <summary>Sent from an unmeasured flow (<see cref="Telemetry.IsUnrecorded"/>); the writer's own flow cannot tell.</summary>
        public bool Unrecorded { get; } = Telemetry.IsUnrecorded;

        public long Bytes { get; } = requests.Sum(request => request.Streams.Sum(s => s.Events.Sum(e => (long)e.DataJson.Length + e.MetadataJson.Length))
            + request.RequestLogEntries.Sum(r => (long)r.ReplyJson.Length));

        private string[]? keys;

        /// <summary>The appends' <see cref="AppendRequest.OrderingKeys"/>, built once (a held-back append is looked at again for each group).</summary>
        public string[] Keys => keys ??= [.. Requests.SelectMany(r => r.OrderingKeys).Distinct()];

        // Answered callers resume on their own threads, not one after another on the writer's.
        public TaskCompletionSource<IReadOnlyList<AppendResult>> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>The database refused appends written as one unit (<see cref="GroupCommit.AppendGroupAsync"/>) and wrote none of them.</summary>
public sealed class GroupRefusedException(Exception refusal) : Exception("the database refused the group and wrote none of it: " + refusal.Message, refusal);
