using GrpcBank.Application.EventStore;
using GrpcBank.Sqlite;
using Microsoft.Data.Sqlite;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// A new read-store generation filled in bulk (views carried from page to page and written at the end, the owners'
/// typo vocabulary built in one pass) holds exactly what a read store fed page by page holds, row for row.
/// </summary>
public sealed class BulkLoadSpecs : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly IReadOnlyList<RecordedEvent> History = HistoryCorpus.Load("history-v1").Events;

    private readonly string directory = Path.Combine(Path.GetTempPath(), "grpcbank-bulkload-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task ABulkLoadedGeneration_HoldsWhatAStoreFedPageByPageHolds()
    {
        var fed = await FedAsync();
        var loaded = Path.Combine(directory, "loaded.db");
        using (var store = SqliteReadStore.ForBulkLoad(loaded))
        {
            foreach (var page in History.Chunk(10)) await store.ApplyAsync(page, page[^1].Position, None);
            await store.FinishLoadAsync(None);
        }

        AssertSameRows(fed, loaded);
    }

    [Fact]
    public async Task APageThatFails_LeavesNothingOfItselfInTheViewsABulkLoadCarries()
    {
        var fed = await FedAsync();
        var loaded = Path.Combine(directory, "loaded.db");
        using (var store = SqliteReadStore.ForBulkLoad(loaded))
        {
            foreach (var page in History.Chunk(10))
            {
                // The page with a deposit to an account nobody opened, after events of known accounts: it fails whole.
                var deposit = page.First(e => e.EventType == "accounts.MoneyDeposited.v1" || e == page[^1]);
                RecordedEvent[] poisoned = [.. page, deposit with { StreamId = "account-nobody", Position = page[^1].Position + 1 }];
                if (deposit.EventType == "accounts.MoneyDeposited.v1")
                    await Assert.ThrowsAsync<InvalidDataException>(() => store.ApplyAsync(poisoned, poisoned[^1].Position, None));
                await store.ApplyAsync(page, page[^1].Position, None);
            }
            await store.FinishLoadAsync(None);
        }

        AssertSameRows(fed, loaded);
    }

    private async Task<string> FedAsync()
    {
        var path = Path.Combine(directory, "fed.db");
        using var store = new SqliteReadStore(path);
        foreach (var page in History.Chunk(10)) await store.ApplyAsync(page, page[^1].Position, None);
        return path;
    }

    private static void AssertSameRows(string expected, string actual)
    {
        foreach (var (table, key) in new[]
                 {
                     ("accounts", "account_id"), ("transactions", "position"), ("payments", "payment_id"), ("orders", "order_id"),
                     ("owner_terms", "term"), ("checkpoint", "id"),
                 })
        {
            var rows = Rows(expected, table, key);
            Assert.NotEmpty(rows);
            Assert.Equal(rows, Rows(actual, table, key));
        }
        // The corpus predates holds: none either way.
        Assert.Equal(Rows(expected, "holds", "account_id, hold_id"), Rows(actual, "holds", "account_id, hold_id"));
    }

    private static List<string> Rows(string file, string table, string key)
    {
        using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"select * from {table} order by {key}";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
            rows.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => $"{reader.GetName(i)}={reader.GetValue(i)}")));
        return rows;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }
}
