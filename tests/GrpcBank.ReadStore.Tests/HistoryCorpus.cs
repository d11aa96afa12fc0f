using System.Globalization;
using System.Text.Json;
using GrpcBank.Application.EventStore;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// A committed corpus of stored events (tests/fixtures/history-&lt;version&gt;, copied next to the tests) and what
/// the read side showed when it was recorded. Payloads are handed on exactly as the store held them.
/// </summary>
public sealed record HistoryCorpus(IReadOnlyList<RecordedEvent> Events, HistoryCorpus.Expected ReadSide)
{
    public static string Directory(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    public static HistoryCorpus Load(string name)
    {
        var events = File.ReadLines(Path.Combine(Directory(name), "events.jsonl"))
            .Where(line => line.Length > 0)
            .Select(Parse)
            .ToList();
        var expected = JsonSerializer.Deserialize<Expected>(
            File.ReadAllText(Path.Combine(Directory(name), "expected.json")),
            new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow })!;
        return new HistoryCorpus(events, expected);
    }

    private static RecordedEvent Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        var e = json.RootElement;
        return new RecordedEvent(
            e.GetProperty("position").GetInt64(),
            e.GetProperty("stream_id").GetString()!,
            e.GetProperty("stream_version").GetInt64(),
            Guid.Parse(e.GetProperty("event_id").GetString()!),
            e.GetProperty("event_type").GetString()!,
            e.GetProperty("data").GetRawText(),
            e.GetProperty("metadata").GetRawText(),
            DateTimeOffset.Parse(e.GetProperty("recorded_at").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));
    }

    /// <summary>The query service's answers at <see cref="Position"/>; statuses by their wire names.</summary>
    public sealed record Expected(long Position, IReadOnlyList<Account> Accounts, IReadOnlyList<Payment> Payments, IReadOnlyList<Order> Orders);

    public sealed record Account(string AccountId, string OwnerName, string CurrencyCode, long BalanceMinor, string Status, long Version);

    public sealed record Payment(
        string PaymentId, string OrderId, string FromAccountId, string ToAccountId, long AmountMinor, string CurrencyCode,
        string Status, string FailureReason, long Version);

    public sealed record Order(
        string OrderId, string CustomerAccountId, string MerchantAccountId, long AmountMinor, string CurrencyCode, string Status,
        string CancellationReason, string PaymentId, long Version);
}
