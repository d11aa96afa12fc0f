using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Sqlite;

/// <summary>
/// The statements of one write transaction, prepared once and reused for every event it applies: preparing a statement
/// costs more than running it, and a batch runs the same four or five statements thousands of times. Found by the
/// transaction, so the helpers that build each statement keep their shape; without an active set they prepare afresh.
/// </summary>
internal sealed class PreparedStatements : IDisposable
{
    private static readonly ConditionalWeakTable<SqliteTransaction, PreparedStatements> Active = new();

    private readonly SqliteTransaction tx;
    private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);

    private PreparedStatements(SqliteTransaction tx) => this.tx = tx;

    /// <summary>Reuses statements on <paramref name="tx"/> until disposed.</summary>
    public static PreparedStatements Begin(SqliteTransaction tx)
    {
        var statements = new PreparedStatements(tx);
        Active.AddOrUpdate(tx, statements);
        return statements;
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
        // The same text always names the same parameters in the same order.
        for (var i = 0; i < parameters.Length; i++) command.Parameters[i].Value = parameters[i].Value ?? DBNull.Value;
        return command;
    }

    public void Dispose()
    {
        Active.Remove(tx);
        foreach (var command in commands.Values) command.Dispose();
    }
}
