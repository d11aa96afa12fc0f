using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Sqlite;

/// <summary>
/// One SQLite file in WAL mode with full synchronous commits, so an acknowledged write survives a crash.
/// Writes are serialised in-process: SQLite has one writer, and queueing beats failing with SQLITE_BUSY.
/// </summary>
public sealed class SqliteDatabase : IDisposable
{
    private readonly string connectionString;
    private readonly string writerConnectionString;
    private readonly SemaphoreSlim writer = new(1, 1);
    /// <summary>
    /// The connection every write runs on, opened at the first and kept (touched only while holding <see cref="writer"/>).
    /// One connection for all writes keeps its page cache: SQLite drops a connection's whole cache when it finds that
    /// another connection wrote since its last transaction, and pooled connections took turns at writing, each then
    /// reading its pages again. Its statements are prepared once (<see cref="PreparedStatements"/>).
    /// </summary>
    private (SqliteConnection Connection, PreparedStatements Statements, bool Durable)? writerConnection;
    private readonly string path;
    /// <summary>
    /// The database file as it was when the writer's connection opened it, held open beside that connection to ask before
    /// each commit whether it is still the file at <see cref="path"/> (<see cref="EnsureStillInPlace"/>); null where the
    /// system cannot tell (no <c>/proc/self/fd</c>). Touched only while holding <see cref="writer"/>.
    /// </summary>
    private (FileStream File, string Target)? writerFile;
    private long lastCheckpoint = Stopwatch.GetTimestamp();
    private int checkpointing;
    private Task checkpoint = Task.CompletedTask;
    private volatile bool disposed;

    public SqliteDatabase(string path, string schemaSql)
    {
        this.path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(this.path)!);
        // Only the first connection may create the file: a reader still on a read-store generation that a rebuild has
        // just deleted (switched away from, or abandoned) then fails, instead of leaving an empty file behind for good.
        connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        // Not pooled: closed only on a failed write or on dispose, and then really closed (its statements with it).
        writerConnectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ToString();
        using var connection = Open(new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        Execute(connection, "pragma journal_mode = wal;");
        if (schemaSql.Length > 0) Execute(connection, schemaSql);
    }

    /// <summary>
    /// False only while a file nobody depends on yet is bulk-loaded (a new read-store generation): commits are then not
    /// synced. Takes effect on the next <see cref="Open"/>.
    /// </summary>
    public bool Durable { get; set; } = true;

    private static readonly string ConnectionPragmas =
        $"pragma foreign_keys = on; pragma wal_autocheckpoint = {CheckpointFrames}; pragma journal_size_limit = {WalSizeLimit};";
    // Per connection: WAL would default to FULL anyway; stated so that nobody "optimises" it to NORMAL.
    private static readonly string DurablePragmas = "pragma synchronous = full; " + ConnectionPragmas;
    private static readonly string BulkLoadPragmas = "pragma synchronous = off; " + ConnectionPragmas;

    public SqliteConnection Open() => Open(connectionString);

    private SqliteConnection Open(string settings)
    {
        var connection = new SqliteConnection(settings);
        connection.Open();
        Execute(connection, Durable ? DurablePragmas : BulkLoadPragmas);
        return connection;
    }

    /// <summary>
    /// How often, at most, the WAL is copied into the database file, in the background (<see cref="Checkpoint()"/>),
    /// instead of by the commit that passes SQLite's 1,000 pages. A page written many times meanwhile is copied once, and
    /// most writes here go to a few hot pages (the newest rows, each busy stream's index entry, each busy account's row):
    /// under deposits at 16 callers about 94 % of the WAL's pages were copied with SQLite's default and about 20 % with
    /// 10,000 pages between copies. In the background, the copy and its fsync of the database file do not hold up the
    /// writes queued behind the commit that would otherwise make it.
    /// </summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(1);

    /// <summary>WAL pages after which a commit copies the WAL itself: only when the background copy falls far behind.</summary>
    public const int CheckpointFrames = 20_000;

    /// <summary>
    /// Bytes the WAL file is cut back to when a write starts it over (SQLite's <c>journal_size_limit</c>): the size it
    /// reaches between checkpoints at saturation (<see cref="CheckpointFrames"/> pages of SQLite's default 4 KiB). SQLite
    /// reuses the file rather than shrink it, so without a limit one burst the checkpoint could not keep up with (a bulk
    /// import, a long read holding the WAL) left a file of that size on disk for as long as the server ran; a smaller
    /// limit would cut and grow the file again at every checkpoint under load.
    /// </summary>
    public const long WalSizeLimit = CheckpointFrames * 4_096L;

    /// <summary>Runs <paramref name="work"/> as the only writer, inside BEGIN IMMEDIATE … COMMIT.</summary>
    /// <param name="synced">
    /// False for a write whose loss to a power cut costs only a redelivery (a relay checkpoint) or a longer fold (a
    /// snapshot): its commit is not synced
    /// (WAL with synchronous = normal; the next synced commit syncs it too), so it does not hold the one writer through
    /// an fsync. A process crash loses nothing either way.
    /// </param>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken ct, bool synced = true)
    {
        await writer.WaitAsync(ct);
        try
        {
            var (connection, statements, _) = WriterConnection();
            var unsynced = !synced && Durable;
            T result;
            try
            {
                if (unsynced) Execute(connection, "pragma synchronous = normal;");
                using var tx = connection.BeginTransaction();
                using (statements.Use(tx)) result = work(connection, tx);
                EnsureStillInPlace();
                tx.Commit();
            }
            catch
            {
                // Whatever state the failure left the connection in, the next write starts on a new one.
                CloseWriter();
                throw;
            }
            if (unsynced) SyncAgain(connection);
            return result;
        }
        finally
        {
            writer.Release();
            CheckpointSoon();
        }
    }

    /// <summary>The writer's connection, opened (again) when there is none or <see cref="Durable"/> changed. Holding <see cref="writer"/>.</summary>
    private (SqliteConnection Connection, PreparedStatements Statements, bool Durable) WriterConnection()
    {
        if (writerConnection is { } open && open.Durable == Durable) return open;
        CloseWriter();
        var connection = Open(writerConnectionString);
        try
        {
            writerFile = OpenedFile();
        }
        catch
        {
            connection.Dispose(); // the file went between the two opens
            throw;
        }
        var opened = (connection, new PreparedStatements(), Durable);
        writerConnection = opened;
        return opened;
    }

    /// <summary>The file at <see cref="path"/> now, and what <c>/proc/self/fd</c> names it; null where it names nothing.</summary>
    private (FileStream File, string Target)? OpenedFile()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (LinkTarget(file) is { } target) return (file, target);
        file.Dispose();
        return null;
    }

    /// <summary>The path the system now gives the file <paramref name="file"/> has open (" (deleted)" after it once unlinked).</summary>
    private static string? LinkTarget(FileStream file) => new FileInfo($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}").LinkTarget;

    /// <summary>
    /// Refuses to commit when the database file the writer has open was deleted, moved or replaced since it was opened. In
    /// WAL mode SQLite goes on writing to an unlinked file (it checks only in rollback-journal mode, SQLITE_READONLY_DBMOVED),
    /// so commands were acknowledged into a file no restart would find again. The failed write closes the writer and the
    /// pooled readers; the next opens the file at <see cref="path"/>, if there is one (never creating it). Holding <see cref="writer"/>.
    /// </summary>
    private void EnsureStillInPlace()
    {
        if (writerFile is not { } opened) return;
        var now = LinkTarget(opened.File);
        if (now == opened.Target) return;
        using (var connection = new SqliteConnection(connectionString)) SqliteConnection.ClearPool(connection);
        throw new SqliteException($"{path} was deleted, moved or replaced while the server ran (the open file is now {now}); nothing was written", SqliteReadOnly, SqliteReadOnlyDbMoved);
    }

    /// <summary>SQLITE_READONLY_DBMOVED, SQLite's own code for a database file moved or unlinked under an open connection.</summary>
    private const int SqliteReadOnly = 8, SqliteReadOnlyDbMoved = SqliteReadOnly | (4 << 8);

    /// <summary>
    /// Puts the writer back to synced commits after an unsynced one. Its write has committed, so a failure here must not
    /// reach its caller: the connection is closed instead, and the next write opens one with synced commits. Holding <see cref="writer"/>.
    /// </summary>
    private void SyncAgain(SqliteConnection connection)
    {
        try
        {
            Execute(connection, "pragma synchronous = full;");
        }
        catch (SqliteException)
        {
            CloseWriter();
        }
    }

    /// <summary>Holding <see cref="writer"/>.</summary>
    private void CloseWriter()
    {
        if (writerConnection is not { } open) return;
        writerConnection = null;
        open.Statements.Dispose();
        open.Connection.Dispose();
        writerFile?.File.Dispose();
        writerFile = null;
    }

    /// <summary>Runs <paramref name="work"/> on its own connection inside one read transaction (a consistent snapshot).</summary>
    public T Read<T>(Func<SqliteConnection, SqliteTransaction, T> work)
    {
        using var connection = Open();
        using var tx = connection.BeginTransaction(deferred: true);
        return work(connection, tx);
    }

    /// <summary>Starts a background checkpoint when none is running and the last ended <see cref="CheckpointInterval"/> ago.</summary>
    private void CheckpointSoon()
    {
        if (disposed || Stopwatch.GetElapsedTime(Interlocked.Read(ref lastCheckpoint)) < CheckpointInterval
            || Interlocked.Exchange(ref checkpointing, 1) == 1) return;
        // On a thread of its own: the copy blocks in SQLite for as long as it takes, and on a 2-core machine the thread pool
        // has few threads to spare beside the group-commit writer and the relay's reads, which block in SQLite too.
        checkpoint = Task.Factory.StartNew(() =>
        {
            try
            {
                Checkpoint();
            }
            catch (SqliteException)
            {
                // Left to the next one, or to the commit that passes CheckpointFrames: a failed copy loses nothing.
            }
            finally
            {
                Interlocked.Exchange(ref lastCheckpoint, Stopwatch.GetTimestamp());
                Volatile.Write(ref checkpointing, 0);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// Copies the WAL into the database file. Two passes run beside the writer (the second copies what was committed during
    /// the first); a last one holds it, so that it copies only what was committed during the second, and the next write
    /// finds the whole WAL copied and starts it over from its beginning instead of growing it.
    /// </summary>
    public void Checkpoint()
    {
        using (var connection = Open())
            if (Checkpoint(connection) == 0 || Checkpoint(connection) == 0) return;
        writer.Wait();
        try
        {
            using var connection = Open();
            Checkpoint(connection);
        }
        finally
        {
            writer.Release();
        }
    }

    /// <summary>A passive checkpoint (it waits for neither readers nor the writer); the pages the WAL held.</summary>
    private static long Checkpoint(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "pragma wal_checkpoint(passive)";
        using var reader = command.ExecuteReader();
        return reader.Read() ? reader.GetInt64(1) : 0;
    }

    /// <summary>Closes the pooled connections, so the file is really let go (a restart, a deleted read store).</summary>
    public void Dispose()
    {
        disposed = true;
        checkpoint.Wait();
        writer.Wait();
        try
        {
            CloseWriter();
        }
        finally
        {
            writer.Release();
        }
        using var connection = new SqliteConnection(connectionString);
        SqliteConnection.ClearPool(connection);
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }
}
