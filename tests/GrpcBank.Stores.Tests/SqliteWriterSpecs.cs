using GrpcBank.Sqlite;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Stores.Tests;

/// <summary>Every write of an embedded database runs on one kept connection (SqliteDatabase.WriteAsync).</summary>
public sealed class SqliteWriterSpecs : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("grpcbank-sqlite-writer-");
    private readonly SqliteDatabase db;

    public SqliteWriterSpecs() =>
        db = new SqliteDatabase(Path.Combine(directory.FullName, "t.db"), "create table t (id integer primary key);");

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

    private static void Insert(SqliteConnection connection, SqliteTransaction tx, long id)
    {
        using var insert = SqliteDatabase.Command(connection, tx, "insert into t (id) values ($id)", ("$id", id));
        insert.ExecuteNonQuery();
    }

    public void Dispose()
    {
        db.Dispose();
        directory.Delete(recursive: true);
    }
}
