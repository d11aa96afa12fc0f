using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace GrpcBank.Sqlite;

/// <summary>
/// The statements of a database's one writer connection (<see cref="SqliteDatabase.WriteAsync{T}"/>), each prepared
/// once for the connection's life and reused by every write transaction: preparing a statement costs more than running
/// it, and every group commit and read-store batch runs the same few statements again. Found by the transaction, so the
/// helpers that build each statement keep their shape; in a transaction without a set (a read) they prepare afresh.
/// </summary>
internal sealed class PreparedStatements : IDisposable
{
    private static readonly ConditionalWeakTable<SqliteTransaction, PreparedStatements> Active = new();

    private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RawStatement> writes = new(StringComparer.Ordinal);

    /// <summary>Makes these the statements that helpers running in <paramref name="tx"/> use, until the scope ends.</summary>
    public Scope Use(SqliteTransaction tx)
    {
        Active.AddOrUpdate(tx, this);
        return new Scope(tx);
    }

    public readonly struct Scope(SqliteTransaction tx) : IDisposable
    {
        public void Dispose() => Active.Remove(tx);
    }

    /// <summary>
    /// A command for <paramref name="sql"/> with these parameter values. Owned by the active set when there is one
    /// (<paramref name="owned"/> false: do not dispose it), else a new command the caller disposes.
    /// </summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction tx, string sql, (string Name, object? Value)[] parameters, out bool owned)
    {
        if (!Active.TryGetValue(tx, out var statements))
        {
            owned = true;
            return SqliteDatabase.Command(connection, tx, sql, parameters);
        }
        owned = false;
        if (!statements.commands.TryGetValue(sql, out var command))
        {
            statements.commands[sql] = command = SqliteDatabase.Command(connection, tx, sql, parameters);
            return command;
        }
        command.Transaction = tx;
        // The same text always names the same parameters in the same order.
        for (var i = 0; i < parameters.Length; i++) command.Parameters[i].Value = parameters[i].Value ?? DBNull.Value;
        return command;
    }

    /// <summary>
    /// Runs a statement that returns no rows. Within an active set it runs on SQLite's own statement handle, bound by
    /// position: Microsoft.Data.Sqlite looks every parameter up by name on every execution, which cost a replay more than
    /// SQLite's work itself (a profile: binding 47% of applying a batch, stepping 7%).
    /// </summary>
    public static void Execute(SqliteConnection connection, SqliteTransaction tx, string sql, (string Name, object? Value)[] parameters) =>
        Scalar(connection, tx, sql, parameters);

    /// <summary>
    /// Runs a statement and returns the first column of its first row, as <see cref="SqliteCommand.ExecuteScalar"/> does
    /// (null when there is no row, <see cref="DBNull"/> for a NULL); integers and text only. Within an active set it runs
    /// on SQLite's own statement handle, as <see cref="Execute"/> does.
    /// </summary>
    public static object? Scalar(SqliteConnection connection, SqliteTransaction tx, string sql, (string Name, object? Value)[] parameters)
    {
        if (!Active.TryGetValue(tx, out var statements))
        {
            using var command = SqliteDatabase.Command(connection, tx, sql, parameters);
            return command.ExecuteScalar();
        }
        var db = connection.Handle!;
        if (!statements.writes.TryGetValue(sql, out var statement))
            statements.writes[sql] = statement = RawStatement.Prepare(db, sql, parameters);
        return statement.Run(db, parameters);
    }

    public void Dispose()
    {
        foreach (var command in commands.Values) command.Dispose();
        foreach (var statement in writes.Values) statement.Dispose();
    }

    /// <summary>One compiled statement and the position of each of its named parameters, in the order callers pass them.</summary>
    private sealed class RawStatement(sqlite3_stmt handle, int[] positions) : IDisposable
    {
        public static RawStatement Prepare(sqlite3 db, string sql, (string Name, object? Value)[] parameters)
        {
            var rc = raw.sqlite3_prepare_v2(db, sql, out var handle, out var tail);
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
            if (!string.IsNullOrWhiteSpace(tail))
            {
                handle.Dispose();
                throw new ArgumentException("one statement at a time", nameof(sql));
            }
            var positions = new int[parameters.Length];
            for (var i = 0; i < parameters.Length; i++)
                positions[i] = raw.sqlite3_bind_parameter_index(handle, parameters[i].Name) is > 0 and var p
                    ? p
                    : throw new ArgumentException($"no parameter {parameters[i].Name} in the statement", nameof(parameters));
            return new RawStatement(handle, positions);
        }

        /// <summary>Binds, steps once and resets; the first column of the first row, if any.</summary>
        public object? Run(sqlite3 db, (string Name, object? Value)[] parameters)
        {
            for (var i = 0; i < parameters.Length; i++) Check(db, Bind(positions[i], parameters[i].Value));
            var rc = raw.sqlite3_step(handle);
            // A statement with RETURNING has made all its changes by its first row.
            var first = rc == raw.SQLITE_ROW ? Column0() : null;
            // Reset at once: a statement left mid-way would hold the transaction's read.
            raw.sqlite3_reset(handle);
            if (rc is not (raw.SQLITE_DONE or raw.SQLITE_ROW)) SqliteException.ThrowExceptionForRC(rc, db);
            return first;
        }

        private object Column0() => raw.sqlite3_column_type(handle, 0) switch
        {
            raw.SQLITE_INTEGER => raw.sqlite3_column_int64(handle, 0),
            raw.SQLITE_TEXT => raw.sqlite3_column_text(handle, 0).utf8_to_string(),
            raw.SQLITE_NULL => DBNull.Value,
            var type => throw new NotSupportedException($"a column of SQLite type {type}"),
        };

        // As Microsoft.Data.Sqlite stores them: booleans as 0/1, every integer as a 64-bit integer.
        private int Bind(int position, object? value) => value switch
        {
            null or DBNull => raw.sqlite3_bind_null(handle, position),
            // UTF-16 as it is: SQLite converts it to the file's UTF-8 itself, without a managed copy per value. But SQLite
            // reads a leading U+FEFF or U+FFFE of UTF-16 text as a byte-order mark: it dropped U+FEFF (a request id
            // "\uFEFFabc" was logged as "abc", and found as a reuse of "abc") and took U+FFFE for big-endian. Such a
            // value goes as UTF-8, which SQLite takes as it is.
            string s when s.Length > 0 && s[0] is '\uFEFF' or '\uFFFE' => raw.sqlite3_bind_text(handle, position, s),
            string s => raw.sqlite3_bind_text16(handle, position, s.AsSpan()),
            long l => raw.sqlite3_bind_int64(handle, position, l),
            int n => raw.sqlite3_bind_int64(handle, position, n),
            bool b => raw.sqlite3_bind_int64(handle, position, b ? 1 : 0),
            double d => raw.sqlite3_bind_double(handle, position, d),
            _ => throw new NotSupportedException($"a parameter of type {value.GetType().Name}"),
        };

        private static void Check(sqlite3 db, int rc)
        {
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
        }

        public void Dispose() => handle.Dispose();
    }
}
