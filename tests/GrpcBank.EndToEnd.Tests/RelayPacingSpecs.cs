using GrpcBank.Application.Relay;
using GrpcBank.Postgres;
using GrpcBank.Testing;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// The server's default relay pacing: over PostgreSQL, where each outbox read is a database transaction, a consumer whose
/// last batch was small waits the busy cycle before reading again; in embedded mode only the quiet cycle. A setting wins.
/// </summary>
public sealed class RelayPacingSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task OverPostgreSql_ASmallBatchIsFollowedByTheBusyCycle()
    {
        await using var host = await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), ("ReadStore:Kind", "Sqlite"));
        var relay = host.Get<OutboxRelay>();
        Assert.Equal(PostgresEventStore.RelayQuietCycle, relay.QuietCycle);
        Assert.Equal(relay.BusyCycle, relay.QuietCycle);
    }

    [Fact]
    public async Task Embedded_ASmallBatchIsFollowedByTheQuietCycle_ShorterThanTheBusyOne()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        var relay = host.Get<OutboxRelay>();
        Assert.Equal(OutboxRelay.DefaultQuietCycle, relay.QuietCycle);
        Assert.True(relay.QuietCycle < relay.BusyCycle);
    }

    [Fact]
    public async Task TheQuietCycleSetting_WinsOverPostgreSqlsDefault()
    {
        await using var host = await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), ("Relay:QuietCycle", "00:00:00.005"));
        Assert.Equal(TimeSpan.FromMilliseconds(5), host.Get<OutboxRelay>().QuietCycle);
    }
}
