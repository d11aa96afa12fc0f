using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// Keeps each append's positions side by side: one append group at a time draws positions, across every server on the
/// database. The identity default draws a position per row as the insert runs, so two groups inserting at once (two
/// servers, or <c>EventStore:GroupCommit:MaxGroupsInFlight</c> above 1) interleaved their rows' positions: a subscriber,
/// reading in position order, got a transfer's debit, another server's deposit, then the transfer's credit, and an atomic
/// batch of 3,000 deposits with the other server's batch woven through it.
/// </summary>
/// <remarks>
/// A session advisory lock taken after the group's transaction id (so <see cref="SettledPosition"/>'s order holds) and
/// given back in the same round trip, after the group's last insert and before its commit: commits still overlap, only
/// the inserts take turns. No deadlock: a group waiting for the lock holds no row yet, and the holder waits at most for
/// groups that are past their inserts. Keyed by the position sequence (schema-qualified), so banks in other schemas of
/// one database do not wait for each other; the two-key form keeps it apart from the relay lease's one-key lock.
/// A session lock outlives a rolled-back transaction, so a group that fails gives it back itself (<see cref="ReleaseAsync"/>):
/// pooled connections carry no session state (<see cref="RecentConnections"/>).
/// </remarks>
internal static class ContiguousPositions
{
    private const string Key = "hashtext('grpcbank.positions'), hashtext($1)";

    /// <summary>The group's statement before its first insert; $1 is the position sequence.</summary>
    public static NpgsqlBatchCommand Take(string sequence) => new($"select pg_advisory_lock({Key})") { Parameters = { new() { Value = sequence } } };

    /// <summary>The group's statement after its last insert.</summary>
    public static NpgsqlBatchCommand GiveBack(string sequence) => new($"select pg_advisory_unlock({Key})") { Parameters = { new() { Value = sequence } } };

    /// <summary>
    /// After a group failed anywhere (its statements after the failure never ran): gives the lock back if this session
    /// holds it. A connection that cannot run this is broken, and its session, lock and all, ends with it.
    /// </summary>
    public static async Task ReleaseAsync(NpgsqlConnection connection)
    {
        if (connection.FullState != System.Data.ConnectionState.Open) return;
        try
        {
            // The only session lock a pooled connection can hold; pg_advisory_unlock of one not held (the group failed
            // before taking it) would log a warning on the server.
            await using var command = new NpgsqlCommand("select pg_advisory_unlock_all()", connection);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await command.ExecuteNonQueryAsync(timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or InvalidOperationException)
        {
            // Not given back on a connection still open: end the session (and the lock) rather than pool it.
            await connection.CloseAsync();
            NpgsqlConnection.ClearPool(connection);
        }
    }
}
