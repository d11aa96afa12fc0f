using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Server.History;
using GrpcBank.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.EndToEnd.Tests;

// Who wakes a subscription waiting in LiveEvents: whoever first learns there is more to read.
public sealed partial class LiveEventsSpecs
{
    [Fact]
    public async Task ASubscriptionWaitingBelowWhatAnotherHasJustRead_IsWoken_WithoutWaitingForTheWatchersNextLook()
    {
        var directory = Directory.CreateTempSubdirectory("grpcbank-live-");
        try
        {
            using var store = new SqliteEventStore(Path.Combine(directory.FullName, "events.db"));
            await store.AppendAsync(new AppendRequest("account-a", 0, [Deposit()], null, DateTimeOffset.UtcNow), Ct);
            // The watcher looks once when the first subscription waits, then not for an hour: no relay here wakes it.
            var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Subscriptions:PollInterval", "01:00:00")]).Build();
            using var live = new LiveEvents(store, new RelayProgress(), configuration, NullLogger<LiveEvents>.Instance);
            await live.StartAsync(Ct);
            live.Observe(1);

            // One subscription has read position 1 and waits; the watcher's look finds nothing more.
            var waiting = live.WaitPastAsync(1, Ct);
            await Task.Delay(300, Ct);
            Assert.False(waiting.IsCompleted);
            // Another subscription reads the next append and says so before the watcher looks again.
            var appended = Assert.IsType<AppendResult.Appended>(await store.AppendAsync(new AppendRequest("account-b", 0, [Deposit()], null, DateTimeOffset.UtcNow), Ct));
            live.Observe(appended.Position);

            // It was left asleep until the watcher's next look found something newer still: an hour here, and for a
            // subscriber on a server whose writes had stopped, never.
            await waiting.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            await live.StopAsync(Ct);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
