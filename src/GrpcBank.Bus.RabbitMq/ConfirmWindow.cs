namespace GrpcBank.Bus.RabbitMq;

/// <summary>
/// The publisher confirms of one channel, kept as "every sequence number up to <c>through</c> is confirmed" plus the few
/// confirmed out of order above it: each ack costs O(1) however many messages are outstanding (a <c>multiple</c> ack
/// moves the mark; it never scans), and a batch waits on one task — for its last sequence number — instead of one per
/// message. Sequence numbers are the channel's own, so a new channel gets a new window: a late confirm of an old
/// channel can never settle a new one's. Acks and nacks arrive on the client's dispatcher, batches wait elsewhere: one lock.
/// </summary>
internal sealed class ConfirmWindow
{
    private readonly object gate = new();

    /// <summary>Acked above <see cref="through"/> out of order (RabbitMQ rarely does; the spec allows it).</summary>
    private readonly HashSet<ulong> ackedAhead = [];

    private ulong through;
    private ulong awaitedLast;
    private TaskCompletionSource? awaited;
    private Exception? failure;

    /// <summary>
    /// A task that completes once every message from <paramref name="first"/> to <paramref name="last"/> is confirmed,
    /// and fails on a nack of any of them or when the channel closes. One batch at a time (the publisher's caller waits).
    /// </summary>
    public Task Expect(ulong first, ulong last)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            if (failure is not null) done.TrySetException(failure);
            else
            {
                // Everything before the batch is settled (the previous batch waited for it, or was given up on when the
                // broker blocked the channel's connection, and is published again in this one), whatever the broker says of it.
                if (first > 0 && through < first - 1) through = first - 1;
                (awaited, awaitedLast) = (done, last);
                Advance();
            }
        }
        return done.Task;
    }

    public void Ack(ulong tag, bool multiple)
    {
        lock (gate)
        {
            if (tag <= through) return;
            if (multiple)
            {
                through = tag;
                if (ackedAhead.Count > 0) ackedAhead.RemoveWhere(t => t <= through);
            }
            else if (tag == through + 1) through = tag;
            else ackedAhead.Add(tag);
            Advance();
        }
    }

    /// <summary>The broker refused <paramref name="tag"/> (and, with <paramref name="multiple"/>, all before it): the waiting batch fails.</summary>
    public void Nack(ulong tag, bool multiple)
    {
        lock (gate)
        {
            if (awaited is null || tag <= through) return;
            // A multiple nack refuses every message up to its tag not confirmed yet: name them, not "those before it",
            // which reads as a whole channel's history when only one was outstanding.
            var refused = multiple && through + 1 < tag ? $"messages {through + 1} to {tag}" : $"message {tag}";
            awaited.TrySetException(new BusUnavailableException($"the broker refused (nacked) {refused}"));
            awaited = null;
        }
    }

    /// <summary>The channel is gone: the waiting batch fails, and so does any later one on this window.</summary>
    public void Fail(string reason)
    {
        lock (gate)
        {
            failure ??= new BusUnavailableException(reason);
            awaited?.TrySetException(failure);
            awaited = null;
        }
    }

    private void Advance()
    {
        while (ackedAhead.Remove(through + 1)) through++;
        if (awaited is not null && through >= awaitedLast)
        {
            awaited.TrySetResult();
            awaited = null;
        }
    }
}
