using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres.ReadStore;
using GrpcBank.Sqlite;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// No query reads a whole big table (accounts, statement lines, payments, orders, holds) to answer a page: every shape the
/// QueryService can send (QueryShapes) is planned on indexes, its page walking an index in its order and stopping at the
/// page's end, or searching a range of one. Only total_size's count reads every match, as a count must (so one with a
/// filter no index holds, a status or a currency, reads the table), and a summary of every account's lines of all time
/// reads every line of its currency. The plans are those of the statements the store runs, with their parameters.
/// </summary>
public sealed class QueryPlanSpecs(PostgresServer postgres) : IAsyncDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Every line of a currency, whatever the day: whole by its nature, as a count is.</summary>
    private static readonly string[] WholeByNature = ["Summarize all EUR by Day", "Summarize all EUR by Month"];

    private readonly string directory = Path.Combine(Path.GetTempPath(), "grpcbank-plan-tests", Guid.NewGuid().ToString("N"));
    private PostgresReadStoreGenerations? generations;

    private static BankAtScale Bank() => new(accounts: 2_000, lines: 20_000, payments: 1_000, holds: 500, orders: 500);

    [Fact]
    public async Task OnTheEmbeddedStore_EveryQueryShapesPageIsPlannedOnIndexes_NeverAWholeTableRead()
    {
        // SQLite plans these without statistics (the store never runs ANALYZE): the plan of a small store is the plan of a
        // big one, the same heuristics whatever the row counts.
        using var store = await SqliteStoreAsync();

        await AssertNoWholeTableReadsAsync(shape => QueryPlans.OfSqliteAsync(store, shape.Run), QueryPlans.SqliteWholeTableReads);
    }

    [Fact]
    public async Task OnThePostgresStore_EveryQueryShapesPageIsPlannedOnIndexes_NeverAWholeTableRead()
    {
        var store = await PostgresStoreAsync();

        await AssertNoWholeTableReadsAsync(shape => QueryPlans.OfPostgresAsync(store, shape.Run), QueryPlans.PostgresWholeTableReads);
    }

    [Fact]
    public async Task OnTheEmbeddedStore_AStatementOrHoldsPage_CountsNothing_AsItsReplyCarriesNoTotal()
    {
        using var store = await SqliteStoreAsync();

        foreach (var shape in QueryShapes.All().Where(s => s.Name.StartsWith("ListTransactions", StringComparison.Ordinal) || s.Name.StartsWith("ListHolds", StringComparison.Ordinal)))
        {
            var statements = await QueryPlans.OfSqliteAsync(store, shape.Run);
            Assert.DoesNotContain(statements, s => s.IsCount);
            Assert.NotEmpty(statements);
        }
    }

    [Fact]
    public async Task OnThePostgresStore_AStatementOrHoldsPage_CountsNothing_AsItsReplyCarriesNoTotal()
    {
        var store = await PostgresStoreAsync();

        foreach (var shape in QueryShapes.All().Where(s => s.Name.StartsWith("ListTransactions", StringComparison.Ordinal) || s.Name.StartsWith("ListHolds", StringComparison.Ordinal)))
        {
            var statements = await QueryPlans.OfPostgresAsync(store, shape.Run);
            Assert.DoesNotContain(statements, s => s.IsCount);
            Assert.NotEmpty(statements);
        }
    }

    private static async Task AssertNoWholeTableReadsAsync(
        Func<QueryShapes.Shape, Task<List<QueryPlans.Planned>>> plan, Func<QueryPlans.Planned, bool, IEnumerable<string>> wholeTableReads)
    {
        var violations = new List<string>();
        foreach (var shape in QueryShapes.All().Where(s => !WholeByNature.Contains(s.Name)))
        foreach (var statement in await plan(shape))
            if (!statement.IsCount && wholeTableReads(statement, shape.Keyed).ToList() is { Count: > 0 } reads)
                violations.Add($"{shape.Name}: {string.Join("; ", reads)}\n{statement}");

        Assert.True(violations.Count == 0, string.Join("\n\n", violations));
    }

    private async Task<SqliteReadStore> SqliteStoreAsync()
    {
        var path = Path.Combine(directory, "read.db");
        using (var loading = SqliteReadStore.ForBulkLoad(path))
        {
            foreach (var batch in Bank().Batches(5_000)) await loading.ApplyAsync(batch, batch[^1].Position, None);
            await loading.FinishLoadAsync(None);
        }
        return new SqliteReadStore(path);
    }

    /// <summary>The bank on a PostgreSQL read store of its own, analysed (QueryPlans prices sequential scans out of reach).</summary>
    private async Task<IReadStore> PostgresStoreAsync()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var database = await postgres.DatabaseForClassAsync(typeof(QueryPlanSpecs));
        generations = await PostgresReadStoreGenerations.OpenAsync(database, $"t{Guid.NewGuid():N}"[..20], None);
        var store = generations.OpenCurrent();
        foreach (var batch in Bank().Batches(5_000)) await store.ApplyAsync(batch, batch[^1].Position, None);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(None);
        await using var analyze = new NpgsqlCommand("analyze", connection);
        await analyze.ExecuteNonQueryAsync(None);
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        if (generations is not null) await generations.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }
}
