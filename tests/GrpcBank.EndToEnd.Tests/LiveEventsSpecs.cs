using System.Reflection;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Server.History;
using GrpcBank.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>The server's one watcher of the event store for live subscriptions (<see cref="LiveEvents"/>).</summary>
public sealed class LiveEventsSpecs
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
            var reads = counting.Reads;
            await live.StopAsync(Ct);

            // Read from the start, the store takes 40 reads of 1,000 events before the watcher reaches the new event.
            Assert.InRange(reads, 1, 15);
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

        public int Reads => Volatile.Read(ref reads);

        public static IEventStore Wrap(IEventStore target, out ReadCounting counting)
        {
            var proxy = Create<IEventStore, ReadCounting>();
            counting = (ReadCounting)(object)proxy;
            counting.target = target;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name.StartsWith("ReadAll", StringComparison.Ordinal)) Interlocked.Increment(ref reads);
            return method.Invoke(target, args);
        }
    }
}
