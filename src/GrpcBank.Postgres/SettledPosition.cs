namespace GrpcBank.Postgres;

/// <summary>
/// Tracks the settled position: the highest position P such that no transaction that could still commit
/// holds a position ≤ P. Every committed event ≤ P is then visible to any later snapshot, for good.
/// </summary>
/// <remarks>
/// Positions are drawn from an identity sequence before commit, so they commit out of order. The argument:
/// <list type="number">
/// <item>Every writer takes its transaction id before it draws a position (the append's first statement is
/// <c>select pg_current_xact_id()</c>). The sequence must keep its default <c>cache 1</c>, so a drawn value is
/// in use by the transaction that drew it and by no later one.</item>
/// <item>A mark is (L, X): L the sequence's last value, read first; X an xid the reader takes afterwards
/// (<c>pg_current_xact_id()</c> in a later statement). Every transaction that drew a position ≤ L had its xid
/// before L was read, hence before X was assigned, hence xid &lt; X. (A snapshot's xmax will not do for X: it is
/// the latest completed xid + 1, and running transactions with higher xids are left out of it.)</item>
/// <item>When a later snapshot has xmin ≥ X, every xid &lt; X has ended (xmin is at most every running xid below
/// the snapshot's xmax, and xmax ≥ xmin ≥ X): all positions ≤ L are committed or rolled back, and nothing can ever
/// appear at or below L again. L is settled.</item>
/// </list>
/// A mark settles at the reader's next look, once the transactions running at the mark have ended. Marks live in
/// this instance only, so a new instance starts from zero and catches up on its second look.
///
/// Each look is answered as of its own snapshot, not with the newest settled position: looks run concurrently (a relay
/// consumer each, history reads, subscriptions), and a mark settled by a later look may cover transactions that were
/// still running when an earlier look took its rows. (Three servers on one database showed it: a watermark past rows
/// the batch did not hold.) So settled marks are kept for a while, and a look gets the highest mark its own xmin has passed.
/// </remarks>
public sealed class SettledPosition
{
    private const int MaxMarks = 1024;

    /// <summary>Settled marks kept for looks whose snapshot is older than the newest settling one.</summary>
    private const int SettledMarksKept = 256;

    private readonly Lock gate = new();
    private readonly List<(ulong Xid, long Position)> marks = [];
    private readonly List<(ulong Xid, long Position)> settledMarks = [];
    private long settled;

    /// <summary>The newest settled position (as of the latest look).</summary>
    public long Value
    {
        get { lock (gate) return settled; }
    }

    /// <summary>
    /// Records a mark and settles every mark the snapshot's xmin has passed; returns the position settled as of this
    /// snapshot: every position up to it was committed or rolled back before the snapshot was taken.
    /// </summary>
    /// <param name="lastDrawn">The sequence's last value.</param>
    /// <param name="markXid">An xid assigned after <paramref name="lastDrawn"/> was read.</param>
    /// <param name="snapshotXmin">The xmin of a snapshot taken no earlier than <paramref name="lastDrawn"/> was read.</param>
    public long Observe(long lastDrawn, ulong markXid, ulong snapshotXmin)
    {
        lock (gate)
        {
            if (lastDrawn > settled && (marks.Count == 0 || lastDrawn > marks[^1].Position))
            {
                // Bounded while a long transaction holds xmin back: widening the newest mark only delays it.
                if (marks.Count == MaxMarks) marks[^1] = (markXid, lastDrawn);
                else marks.Add((markXid, lastDrawn));
            }
            foreach (var mark in marks.Where(m => m.Xid <= snapshotXmin))
            {
                settledMarks.Add(mark);
                if (mark.Position > settled) settled = mark.Position;
            }
            marks.RemoveAll(m => m.Xid <= snapshotXmin || m.Position <= settled);
            if (settledMarks.Count > SettledMarksKept) settledMarks.RemoveRange(0, settledMarks.Count - SettledMarksKept);
            // Too old for every mark kept: claim nothing (a caller looks again).
            return settledMarks.Where(m => m.Xid <= snapshotXmin).Select(m => m.Position).DefaultIfEmpty(0).Max();
        }
    }
}
