using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// The PostgreSQL event store taken back with pg_dump and pg_restore (its sequence too, so new events take positions the
/// lost history had) while a read store outside the database (the embedded one in the data directory, as Elasticsearch
/// would be) keeps the later history.
/// </summary>
public sealed class PostgresBackupRestoreSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task TheEventDatabaseRestoredToAnOlderDump_UnderANewerReadStore_TheReadSideShowsWhatTheDatabaseHolds_AndEveryNewEvent()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        Assert.SkipUnless(OperatingSystem.IsLinux() && File.Exists(Path.Combine(PostgresServer.BinDirectory, "pg_dump")), $"no pg_dump in {PostgresServer.BinDirectory}");
        var database = await postgres.CreateDatabaseAsync();
        var dump = Path.Combine(KillUnderLoadSpecs.TempDirectory(), "events.dump");
        Directory.CreateDirectory(Path.GetDirectoryName(dump)!);
        // pg_dump runs as the postgres user when the tests run as root.
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(Path.GetDirectoryName(dump)!, (UnixFileMode)0x1FF);
        await using var server = await ServerProcess.StartAsync(
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("ConnectionStrings:Postgres", database));
        await BackupRestoreSpecs.BackUpThenMoveOnAsync(server,
            () => PostgresServer.RunAsync(Path.Combine(PostgresServer.BinDirectory, "pg_dump"), "--format=custom", "--file", dump, "--dbname", Libpq(database)));

        // The database restored from the dump as a whole (dropped and made again); the data directory's read.db is kept.
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Database = "postgres", Pooling = false }.ToString()))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"drop database \"{name}\" with (force); create database \"{name}\"", admin);
            await drop.ExecuteNonQueryAsync();
        }
        await PostgresServer.RunAsync(Path.Combine(PostgresServer.BinDirectory, "pg_restore"), "--dbname", Libpq(database), dump);

        await server.RestartAsync();
        await BackupRestoreSpecs.AssertTheReadSideFollowsTheOlderEventStoreAsync(server);
    }

    /// <summary>The connection string as libpq's keywords, for pg_dump and pg_restore.</summary>
    private static string Libpq(string npgsql)
    {
        var b = new NpgsqlConnectionStringBuilder(npgsql);
        return $"host={b.Host} port={b.Port} user={b.Username} dbname={b.Database}";
    }
}
