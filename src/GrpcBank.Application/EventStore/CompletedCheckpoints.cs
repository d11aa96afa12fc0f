namespace GrpcBank.Application.EventStore;

/// <summary>
/// Relay checkpoints as completed, kept in memory and written to the store's table at most once per
/// <see cref="WriteInterval"/> per consumer (and before a trim, and on dispose). At one command a time, writing each
/// completion was a third of the round trips a command cost the database (two consumers, one checkpoint write each), and
/// on SQLite it took the one writer from the appends. Losing what is not written yet (a crash, a power cut) only
/// redelivers it, which every consumer takes in its stride; the store reads pending rows after the later of the written
/// checkpoint and this one, so nothing is redelivered while the process lives. A trim writes the completions first, then
/// removes only rows below the checkpoints in the table.
/// </summary>
public sealed class CompletedCheckpoints(TimeProvider clock)
{
    public static readonly TimeSpan WriteInterval = TimeSpan.FromSeconds(1);

    private readonly Lock gate = new();
    /// <summary>
    /// WrittenAt is the monotonic clock's timestamp (<see cref="TimeProvider.GetTimestamp"/>), not the wall clock's time: a
    /// wall clock set back an hour (a time service stepping it) held every checkpoint write back for that hour, and one
    /// set forward wrote early.
    /// </summary>
    private readonly Dictionary<string, (long Position, bool Written, long? WrittenAt)> consumers = new(StringComparer.Ordinal);

    /// <summary>The last position <paramref name="consumer"/> completed in this process; 0 if none.</summary>
    public long Of(string consumer)
    {
        lock (gate) return consumers.TryGetValue(consumer, out var c) ? c.Position : 0;
    }

    /// <summary>Records a completion; true when the consumer's checkpoint is due to be written (never yet, or not for <see cref="WriteInterval"/>).</summary>
    public bool Complete(string consumer, long position)
    {
        lock (gate)
        {
            var writtenAt = consumers.TryGetValue(consumer, out var c) ? c.WrittenAt : null;
            consumers[consumer] = (position, false, writtenAt);
            return writtenAt is not { } at || clock.GetElapsedTime(at) >= WriteInterval;
        }
    }

    /// <summary>
    /// Hands the completions not written yet (all of them, or only <paramref name="consumer"/>'s) to
    /// <paramref name="write"/>, and records them as written once it has succeeded. Nothing to write: no call.
    /// </summary>
    public async Task WriteAsync(Func<IReadOnlyList<(string Consumer, long Position)>, Task> write, string? consumer = null)
    {
        var due = Unwritten(consumer);
        if (due.Count == 0) return;
        await write(due);
        Written(due);
    }

    /// <summary>The completions not written yet (all of them, or only <paramref name="consumer"/>'s).</summary>
    public IReadOnlyList<(string Consumer, long Position)> Unwritten(string? consumer = null)
    {
        lock (gate)
            return [.. consumers.Where(c => !c.Value.Written && (consumer is null || c.Key == consumer)).Select(c => (c.Key, c.Value.Position))];
    }

    /// <summary>Records that <paramref name="written"/> are in the table (a later completion since stays unwritten).</summary>
    public void Written(IEnumerable<(string Consumer, long Position)> written)
    {
        lock (gate)
            foreach (var (consumer, position) in written)
                if (consumers.TryGetValue(consumer, out var c) && c.Position == position)
                    consumers[consumer] = (position, true, clock.GetTimestamp());
    }
}
