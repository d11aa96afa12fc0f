using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Tests;

/// <summary>The snapshot port in memory; a test can fail its writes, and wait for the background ones.</summary>
public sealed class InMemorySnapshotStore : ISnapshotStore
{
    private readonly object gate = new();
    private readonly List<Snapshot> snapshots = [];
    private readonly List<Snapshot> saves = [];

    /// <summary>Set: every save throws this.</summary>
    public Exception? FailSaves { get; set; }

    public Task SaveAsync(Snapshot snapshot, CancellationToken ct)
    {
        if (FailSaves is { } failure) throw failure;
        lock (gate)
        {
            snapshots.RemoveAll(s => s.StreamId == snapshot.StreamId && s.Version <= snapshot.Version);
            snapshots.Add(snapshot);
            saves.Add(snapshot);
        }
        return Task.CompletedTask;
    }

    public Task<Snapshot?> LoadAsync(string streamId, string schema, long maxVersion, CancellationToken ct)
    {
        lock (gate)
            return Task.FromResult(snapshots
                .Where(s => s.StreamId == streamId && s.Schema == schema && s.Version <= maxVersion)
                .MaxBy(s => s.Version));
    }

    public Task DropAllAsync(CancellationToken ct)
    {
        lock (gate) snapshots.Clear();
        return Task.CompletedTask;
    }

    public IReadOnlyList<Snapshot> All
    {
        get { lock (gate) return [.. snapshots]; }
    }

    /// <summary>Every snapshot saved, in order, also those a later one removed.</summary>
    public IReadOnlyList<Snapshot> Saves
    {
        get { lock (gate) return [.. saves]; }
    }

    /// <summary>Waits (a few seconds at most) until a snapshot of the stream at the version is saved; background saves are not awaited by anyone else.</summary>
    public async Task<Snapshot> SavedAsync(string streamId, long version)
    {
        for (var waited = 0; waited < 5_000; waited += 10)
        {
            if (All.FirstOrDefault(s => s.StreamId == streamId && s.Version == version) is { } saved) return saved;
            await Task.Delay(10);
        }
        throw new TimeoutException($"no snapshot of {streamId} at version {version} was saved");
    }
}
