using System.Text.RegularExpressions;
using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres.ReadStore;
using GrpcBank.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// The plans of the statements a read store really runs for a query, with their real parameters, taken as the store
/// runs them (its query observer explains each statement on the store's own connection, in its transaction).
/// </summary>
public static partial class QueryPlans
{
    /// <summary>One statement and its plan, a line per node.</summary>
    public sealed record Planned(string Sql, IReadOnlyList<string> Plan)
    {
        /// <summary>total_size's statement: a count of every match, whole by its nature.</summary>
        public bool IsCount => Sql.StartsWith("select count(*)", StringComparison.Ordinal);

        public override string ToString() => Sql + "\n  " + string.Join("\n  ", Plan);
    }

    /// <summary>The view tables that grow with the bank.</summary>
    public static readonly string[] BigTables = ["accounts", "transactions", "payments", "orders", "holds"];

    public static async Task<List<Planned>> OfSqliteAsync(IReadStore store, Func<IReadStore, Task<object>> query)
    {
        var planned = new List<Planned>();
        SqliteReadStore.QueryObserver.Value = command =>
        {
            using var explain = command.Connection!.CreateCommand();
            explain.Transaction = command.Transaction;
            explain.CommandText = "explain query plan " + command.CommandText;
            foreach (SqliteParameter p in command.Parameters) explain.Parameters.AddWithValue(p.ParameterName, p.Value);
            using var reader = explain.ExecuteReader();
            var plan = new List<string>();
            while (reader.Read()) plan.Add(reader.GetString(3));
            planned.Add(new Planned(command.CommandText, plan));
        };
        try
        {
            await query(store);
        }
        finally
        {
            SqliteReadStore.QueryObserver.Value = null;
        }
        return planned;
    }

    public static async Task<List<Planned>> OfPostgresAsync(IReadStore store, Func<IReadStore, Task<object>> query)
    {
        var planned = new List<Planned>();
        PostgresReadStore.QueryObserver.Value = async (connection, sql, parameters) =>
        {
            // Sequential scans priced out of reach: on a small table one costs less than any index, so a plan that still
            // has one is a query no index can answer; on a bank's tables the planner's costs choose the index by themselves
            // (QueryScaleProbe prints the plans' timings at 100,000 accounts and a million statement lines).
            await using (var off = new NpgsqlCommand("set enable_seqscan = off", connection)) await off.ExecuteNonQueryAsync();
            try
            {
                await using var explain = new NpgsqlCommand("explain " + sql, connection);
                foreach (NpgsqlParameter p in parameters) explain.Parameters.Add(p.Clone());
                await using var reader = await explain.ExecuteReaderAsync();
                var plan = new List<string>();
                while (await reader.ReadAsync()) plan.Add(reader.GetString(0));
                planned.Add(new Planned(sql, plan));
            }
            finally
            {
                await using var on = new NpgsqlCommand("reset enable_seqscan", connection);
                await on.ExecuteNonQueryAsync();
            }
        };
        try
        {
            await query(store);
        }
        finally
        {
            PostgresReadStore.QueryObserver.Value = null;
        }
        return planned;
    }

    /// <summary>
    /// What in a SQLite plan reads a big table whole: a SCAN of it (SEARCH is a range of an index), unless the query names
    /// nothing to look up (<see cref="QueryShapes.Shape.Keyed"/>) and its page walks the index of its order, stopping at the
    /// page's end (no temporary b-tree sorting what it read).
    /// </summary>
    public static IEnumerable<string> SqliteWholeTableReads(Planned statement, bool keyed)
    {
        var sorted = statement.Plan.Any(line => line.Contains("USE TEMP B-TREE FOR ORDER BY", StringComparison.Ordinal)
                                                || line.Contains("USE TEMP B-TREE FOR GROUP BY", StringComparison.Ordinal));
        var paged = statement.Sql.Contains(" limit $limit", StringComparison.Ordinal);
        foreach (var line in statement.Plan)
        {
            if (SqliteScan().Match(line) is not { Success: true } scan || !IsBig(SqliteTableOf(statement.Sql, scan.Groups["alias"].Value))) continue;
            if (!keyed && paged && scan.Groups["index"].Success && !sorted) continue;
            yield return line;
        }
    }

    /// <summary>
    /// What in a PostgreSQL plan reads a big table whole: a sequential scan of it; for a query that names what it wants, a
    /// scan of one with no index condition (a walk of a whole index); otherwise a page sorting a whole index's walk.
    /// </summary>
    public static IEnumerable<string> PostgresWholeTableReads(Planned statement, bool keyed)
    {
        var plan = statement.Plan;
        for (var i = 0; i < plan.Count; i++)
        {
            if (PostgresScan().Match(plan[i]) is not { Success: true } scan || !IsBig(scan.Groups["table"].Value)) continue;
            if (scan.Groups["kind"].Value == "Seq Scan") yield return plan[i];
            else if (keyed && !plan.Skip(i + 1).TakeWhile(line => !line.Contains("->", StringComparison.Ordinal))
                         .Any(line => line.Contains("Index Cond:", StringComparison.Ordinal) || line.Contains("Recheck Cond:", StringComparison.Ordinal)))
                yield return plan[i];
        }
        var sorts = plan.Any(line => line.TrimStart(' ', '-', '>').StartsWith("Sort ", StringComparison.Ordinal));
        var bounded = plan.Any(line => line.Contains("Index Cond:", StringComparison.Ordinal) || line.Contains("Recheck Cond:", StringComparison.Ordinal));
        if (sorts && !bounded) yield return "a sort of a whole index's walk";
    }

    private static bool IsBig(string table) => BigTables.Contains(table);

    /// <summary>The table an alias of <paramref name="sql"/> stands for ("from accounts a", "from transactions").</summary>
    private static string SqliteTableOf(string sql, string alias) =>
        BigTables.FirstOrDefault(t => alias == t || Regex.IsMatch(sql, $@"\b{t} {Regex.Escape(alias)}\b")) ?? alias;

    [GeneratedRegex(@"^SCAN (?<alias>\w+)(?<index> USING (COVERING )?INDEX \w+)?$")]
    private static partial Regex SqliteScan();

    [GeneratedRegex(@"(?<kind>Seq Scan|Index Scan|Index Scan Backward|Index Only Scan|Index Only Scan Backward|Bitmap Heap Scan)( using \w+)? on (?<table>\w+)")]
    private static partial Regex PostgresScan();
}
