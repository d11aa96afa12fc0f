using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Sqlite;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Runs the embedded read store's apply path at start-up, before the server listens, on throwaway read stores in
/// files of the data directory's <c>warm-up</c> folder (deleted afterwards, and at the next start if a crash cut the
/// warm-up short); the serving read store is not touched and nothing is written anywhere else.
/// <list type="bullet">
/// <item>The events of the command warm-up's accepted commands (<see cref="CommandPathWarmUp.MadeUpHistory"/>: two
/// accounts opened, a deposit, a withdrawal, a transfer; none of them stored), one batch per event as the relay delivers
/// them after single commands. Otherwise the relay's first delivery after a restart compiles that path while the first
/// command is answered, and on a machine with few cores the two compete (measured: a restarted server's first deposits
/// took 20–30 ms, against 6–9 ms with the relay off).</item>
/// <item>The first stored events (up to <see cref="ReplayEvents"/>) loaded into a new generation as a rebuild loads it,
/// in small pages, <see cref="ReplayRounds"/> times with a pause for the runtime's background compilations after each.
/// The runtime recompiles a method at its best tier only after it has been called often enough (twice over, with dynamic
/// PGO) and once no new method has been compiled for a while; a rebuild right after a restart otherwise ran its first
/// seconds on unoptimised code while that compilation competed for the cores (measured: 66,000–84,000 events/s against
/// 117,000–141,000 on a server that had run a while).</item>
/// </list>
/// </summary>
public sealed class ReadSideWarmUp(CommandPathWarmUp commands, IEventStore store, DataDirectoryLock dataDirectory, ILogger<ReadSideWarmUp> logger)
    : IHostedService
{
    private const int ReplayEvents = 2_000;
    private const int ReplayPage = 50;
    private const int ReplayRounds = 3;

    public async Task StartAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            ClearFolder();
            if (commands.MadeUpHistory.Count == 0)
            {
                logger.LogWarning("Read side warm-up skipped: the command warm-up made up no history; the relay's first delivery will pay for it");
                return;
            }
            await WithThrowawayStoreAsync(async store =>
            {
                foreach (var e in commands.MadeUpHistory) await store.ApplyAsync([e], e.Position, ct);
            });
            var replayed = 0;
            for (var round = 0; round < ReplayRounds; round++)
            {
                replayed = 0;
                await WithThrowawayStoreAsync(async generation =>
                {
                    for (long after = 0; replayed < ReplayEvents;)
                    {
                        var page = await store.ReadAllWithoutMetadataAsync(after, ReplayPage, ct);
                        if (page.Count == 0) break;
                        await generation.ApplyAsync(page, 0, ct);
                        (after, replayed) = (page[^1].Position, replayed + page.Count);
                    }
                    await generation.FinishLoadAsync(ct);
                }, bulkLoad: true);
                if (replayed == 0) break;
                await BackgroundCompilation.QuietAsync();
            }
            logger.LogInformation("Read side warmed up in {Elapsed} ms ({Replayed} stored events replayed)",
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, replayed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Read side warm-up failed; the relay's first delivery, or a rebuild, will pay for it");
        }
        finally
        {
            try
            {
                ClearFolder();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning(e, "The read side warm-up's folder {Folder} could not be deleted; the next start tries again", Folder);
            }
        }
    }

    /// <summary>
    /// Where the throwaway stores live: in the data directory, which this server alone holds (<see cref="DataDirectoryLock"/>),
    /// so that what a crash in the middle of a warm-up leaves is found and deleted by the next start. In the system's
    /// temporary folder, under random names, such leftovers stayed for good: a store's files per crash.
    /// </summary>
    private string Folder => Path.Combine(dataDirectory.Folder, "warm-up");

    private void ClearFolder()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }

    /// <summary>A throwaway store in <see cref="Folder"/>, closed when <paramref name="use"/> ends (its files go with the folder).</summary>
    private async Task WithThrowawayStoreAsync(Func<SqliteReadStore, Task> use, bool bulkLoad = false)
    {
        var file = Path.Combine(Directory.CreateDirectory(Folder).FullName, $"read-{Guid.NewGuid():N}.db");
        using var store = bulkLoad ? SqliteReadStore.ForBulkLoad(file) : new SqliteReadStore(file);
        await use(store);
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
