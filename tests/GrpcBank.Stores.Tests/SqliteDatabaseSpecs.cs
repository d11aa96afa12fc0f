using GrpcBank.Sqlite;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Stores.Tests;

/// <summary>
/// The embedded database (SqliteDatabase): it copies its WAL into the database file in the background (Checkpoint), and
/// runs every write on one kept connection (WriteAsync).
/// </summary>
public sealed class SqliteDatabaseSpecs : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("grpcbank-sqlite-database-");
    private readonly SqliteDatabase db;

    public SqliteDatabaseSpecs() =>
        db = new SqliteDatabase(Path.Combine(directory.FullName, "t.db"), "create table t (id integer primary key, body text not null);");

    [Fact]
    public async Task AfterACheckpoint_TheNextWriteStartsTheWalOver_AndNothingIsLost()
    {
        await WriteRowsAsync(0, 2_000);
        Assert.True(WalPages() > 100);

        db.Checkpoint();
        await WriteRowsAsync(2_000, 1);

        // The WAL holds only the last write's pages: it was started over, not grown.
        Assert.InRange(WalPages(), 1, 10);
        Assert.Equal(2_001L, db.Read((connection, tx) => (long)SqliteDatabase.Command(connection, tx, "select count(*) from t").ExecuteScalar()!));
    }

    [Fact]
    public async Task AWalGrownPastItsLimitByABurst_IsCutBack_WhenTheNextWriteStartsItOver()
    {
        // One transaction of about 120 MB (a row of 3,000 bytes to a 4 KiB page), so the WAL grows past its limit.
        var burst = (int)(SqliteDatabase.WalSizeLimit * 3 / 2 / 4_096);
        await db.WriteAsync((connection, tx) =>
        {
            for (var id = 0; id < burst; id++) Insert(connection, tx, id, new string('x', 3_000));
            return 0;
        }, Ct);
        Assert.True(WalBytes() > SqliteDatabase.WalSizeLimit, $"the burst left a WAL of {WalBytes():N0} bytes");

        db.Checkpoint();
        await WriteRowsAsync(burst, 1);

        Assert.InRange(WalBytes(), 1, SqliteDatabase.WalSizeLimit);
        Assert.Equal(burst + 1L, db.Read((connection, tx) => (long)SqliteDatabase.Command(connection, tx, "select count(*) from t").ExecuteScalar()!));
    }

    private long WalBytes() => new FileInfo(Path.Combine(directory.FullName, "t.db-wal")).Length;

    [Fact]
    public async Task WritesGoOnWhileACheckpointRuns()
    {
        await WriteRowsAsync(0, 5_000);

        var checkpoint = Task.Run(db.Checkpoint);
        for (var i = 0; i < 50; i++) await WriteRowsAsync(5_000 + i * 10, 10);
        await checkpoint;

        Assert.Equal(5_500L, db.Read((connection, tx) => (long)SqliteDatabase.Command(connection, tx, "select count(*) from t").ExecuteScalar()!));
    }

    [Fact]
    public async Task WritesRunOnOneConnection()
    {
        var first = await db.WriteAsync((connection, _) => connection, Ct);
        var second = await db.WriteAsync((connection, _) => connection, Ct);

        Assert.Same(first, second);
    }

    [Fact]
    public async Task AnUnsyncedWrite_LeavesTheNextWriteSynced()
    {
        var unsynced = await db.WriteAsync((connection, tx) => Synchronous(connection, tx), Ct, synced: false);
        var next = await db.WriteAsync((connection, tx) => Synchronous(connection, tx), Ct);

        Assert.Equal(1L, unsynced); // NORMAL
        Assert.Equal(2L, next); // FULL
    }

    [Fact]
    public async Task AFailedWrite_WritesNothing_AndTheNextRunsOnAFreshConnection()
    {
        var failed = await db.WriteAsync((connection, _) => connection, Ct);
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync<int>((connection, tx) =>
        {
            Insert(connection, tx, 1);
            throw new InvalidOperationException("a bug in the middle of a write");
        }, Ct));

        var next = await db.WriteAsync((connection, tx) =>
        {
            Insert(connection, tx, 2);
            return connection;
        }, Ct);

        Assert.NotSame(failed, next);
        Assert.Equal([2L], db.Read((connection, tx) =>
        {
            using var ids = SqliteDatabase.Command(connection, tx, "select id from t order by id");
            using var reader = ids.ExecuteReader();
            var found = new List<long>();
            while (reader.Read()) found.Add(reader.GetInt64(0));
            return found;
        }));
    }

    private static long Synchronous(SqliteConnection connection, SqliteTransaction tx)
    {
        using var command = SqliteDatabase.Command(connection, tx, "pragma synchronous");
        return (long)command.ExecuteScalar()!;
    }

    private static void Insert(SqliteConnection connection, SqliteTransaction tx, long id, string body = "x")
    {
        using var insert = SqliteDatabase.Command(connection, tx, "insert into t (id, body) values ($id, $body)", ("$id", id), ("$body", body));
        insert.ExecuteNonQuery();
    }

    private Task WriteRowsAsync(int from, int count) =>
        db.WriteAsync((connection, tx) =>
        {
            for (var id = from; id < from + count; id++) Insert(connection, tx, id, new string('x', 500));
            return 0;
        }, Ct);

    /// <summary>The pages the WAL holds now (a passive checkpoint reports them; it copies what it can, which changes nothing here).</summary>
    private long WalPages()
    {
        using var connection = db.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "pragma wal_checkpoint(passive)";
        using var reader = command.ExecuteReader();
        reader.Read();
        return reader.GetInt64(1);
    }

    public void Dispose()
    {
        db.Dispose();
        SqliteConnection.ClearAllPools();
        directory.Delete(recursive: true);
    }
}
