using System.Reflection;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Server.History;
using GrpcBank.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>The server's one watcher of the event store for live subscriptions (<see cref="LiveEvents"/>).</summary>
public sealed partial class LiveEventsSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OnAServerWhoseRelayRunsElsewhere_ASubscriberAtTheHeadIsWoken_WithoutAScanOfTheWholeStore()
    {
        var directory = Directory.CreateTempSubdirectory("grpcbank-live-");
        try
        {
            using var sqlite = new SqliteEventStore(Path.Combine(directory.FullName, "events.db"));
            // 40,000 events; this watcher's relay progress stays at 0, as on a server whose relay runs elsewhere.
            for (var version = 0; version < 40_000; version += 1_000)
                await sqlite.AppendAsync(new AppendRequest("account-a", version, [.. Enumerable.Range(0, 1_000).Select(_ => Deposit())], null, DateTimeOffset.UtcNow), Ct);
            var store = ReadCounting.Wrap(sqlite, out var counting);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Subscriptions:PollInterval", "00:00:00.010")]).Build();
            using var live = new LiveEvents(store, new RelayProgress(), configuration, NullLogger<LiveEvents>.Instance);
            await live.StartAsync(Ct);
            var head = await sqlite.HeadPositionAsync(Ct);

            var woken = live.WaitPastAsync(head, Ct);
            await sqlite.AppendAsync(new AppendRequest("account-b", 0, [Deposit()], null, DateTimeOffset.UtcNow), Ct);
            await woken.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            var (reads, lowest) = (counting.Reads, counting.LowestAfter);
            await live.StopAsync(Ct);

            // Read from the start, the store takes 40 reads of 1,000 events before the watcher reaches the new event. Not
            // the number of reads: the watcher also reads at the head once each 10 ms poll until the append shows, so
            // their number grows with how long the append and the wake-up take (a loaded machine). Where they start does
            // not: none below the newest 1,000.
            Assert.True(reads >= 1, "the watcher read nothing");
            Assert.True(lowest >= head - 1_000, $"a read started at position {lowest}, below the newest 1,000 (head {head}); {reads} reads");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static EventData Deposit() =>
        new(Guid.NewGuid(), "accounts.MoneyDeposited.v1", """{"accountId":"a","amountMinor":1,"currencyCode":"EUR","reference":"r"}""", "{}");

    /// <summary>An event store that counts the reads of its global order (ReadAll…) and passes every call on.</summary>
    public class ReadCounting : DispatchProxy
    {
        private IEventStore target = null!;
        private int reads;
        private long lowestAfter = long.MaxValue;

        public int Reads => Volatile.Read(ref reads);

        /// <summary>The lowest position a read of the global order started after.</summary>
        public long LowestAfter => Interlocked.Read(ref lowestAfter);

        public static IEventStore Wrap(IEventStore target, out ReadCounting counting)
        {
            var proxy = Create<IEventStore, ReadCounting>();
            counting = (ReadCounting)(object)proxy;
            counting.target = target;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name.StartsWith("ReadAll", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref reads);
                var after = (long)args![0]!;
                long seen;
                while ((seen = Interlocked.Read(ref lowestAfter)) > after && Interlocked.CompareExchange(ref lowestAfter, after, seen) != seen) { }
            }
            return method.Invoke(target, args);
        }
    }
}
