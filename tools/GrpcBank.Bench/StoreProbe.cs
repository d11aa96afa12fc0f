using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Postgres;
using HdrHistogram;

namespace GrpcBank.Bench;

public sealed record StoreProbeResult(int Callers, double PerSecond, double P50Ms, double P99Ms, double FindP50Ms, double ReadP50Ms, double AppendP50Ms);

/// <summary>
/// Timing breakdown without gRPC or the server: the real <see cref="PostgresEventStore"/> in the bench process, called
/// the way <c>CommandHandler</c> calls it for one deposit with a request id and a warm cache — request-log lookup,
/// read of the stream past the cached version (no rows), append of one event with its request-log entry. Like the server
/// that holds the relay lease, the store sends no NOTIFY after its appends (<see cref="PostgresEventStore.RelaysHere"/>:
/// one more transaction per append, which the server's own appends do not pay); request ids are time-ordered, as the
/// bench's clients draw them.
/// </summary>
public static class StoreProbe
{
    public static async Task<StoreProbeResult> RunAsync(string connectionString, int callers, TimeSpan duration, bool migrate)
    {
        await Disk.SettleAsync();
        await using var store = migrate
            ? await PostgresEventStore.OpenAsync(connectionString, null, CancellationToken.None)
            : new PostgresEventStore(connectionString);
        store.RelaysHere = () => true;
        var total = new LongHistogram(60_000_000L, 3);
        var find = new LongHistogram(60_000_000L, 3);
        var read = new LongHistogram(60_000_000L, 3);
        var append = new LongHistogram(60_000_000L, 3);
        long count = 0;
        var stop = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var sw = Stopwatch.StartNew();
        var run = Guid.NewGuid().ToString("N")[..8];
        await Task.WhenAll(Enumerable.Range(0, callers).Select(w => Task.Run(async () =>
        {
            var (ht, hf, hr, ha) = (new LongHistogram(60_000_000L, 3), new LongHistogram(60_000_000L, 3), new LongHistogram(60_000_000L, 3), new LongHistogram(60_000_000L, 3));
            var versions = new long[50];
            var rng = new Random(w);
            while (Stopwatch.GetTimestamp() < stop)
            {
                var s = rng.Next(versions.Length);
                var stream = $"account-probe-{run}-{w}-{s}";
                var requestId = RequestIds.Next();
                var t0 = Stopwatch.GetTimestamp();
                await store.FindRequestAsync(requestId, CancellationToken.None);
                var t1 = Stopwatch.GetTimestamp();
                await store.ReadStreamAsync(stream, versions[s] + 1, 1000, CancellationToken.None);
                var t2 = Stopwatch.GetTimestamp();
                var result = await store.AppendAsync(Deposit(stream, versions[s], requestId), CancellationToken.None);
                var t3 = Stopwatch.GetTimestamp();
                if (result is not AppendResult.Appended) throw new InvalidOperationException($"probe append failed: {result}");
                versions[s]++;
                Interlocked.Increment(ref count);
                static long Us(long a, long b) => Math.Max(1, (b - a) * 1_000_000 / Stopwatch.Frequency);
                ht.RecordValue(Us(t0, t3));
                hf.RecordValue(Us(t0, t1));
                hr.RecordValue(Us(t1, t2));
                ha.RecordValue(Us(t2, t3));
            }
            lock (total) { total.Add(ht); find.Add(hf); read.Add(hr); append.Add(ha); }
        })));
        static double P(LongHistogram h, double p) => h.GetValueAtPercentile(p) / 1000.0;
        return new StoreProbeResult(callers, count / sw.Elapsed.TotalSeconds, P(total, 50), P(total, 99), P(find, 50), P(read, 50), P(append, 50));
    }

    /// <summary>One deposit's append as the server writes it: its event (payload and metadata of a real one's size) and request-log row.</summary>
    public static AppendRequest Deposit(string stream, long expectedVersion, string requestId) => new(stream, expectedVersion,
        [new EventData(Guid.CreateVersion7(), "accounts.MoneyDeposited.v1",
            "{\"accountId\":\"b-001234\",\"amountMinor\":4242,\"currencyCode\":\"EUR\",\"reference\":\"bench\"}",
            $"{{\"requestId\":\"{requestId}\",\"correlationId\":null,\"causationId\":null,\"principal\":null}}")],
        new RequestLogEntry(requestId, "A3F1C2D4E5B6978812345678ABCDEF0123456789ABCDEF0123456789ABCDEF01",
            "{\"aggregateId\":\"b-001234\",\"version\":17,\"position\":0,\"balanceMinor\":98765}"),
        DateTimeOffset.UtcNow);
}
