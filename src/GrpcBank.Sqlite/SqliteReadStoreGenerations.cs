using GrpcBank.Application.ReadSide;

namespace GrpcBank.Sqlite;

/// <summary>
/// Embedded read-store generations are files in the data directory; <c>read.current</c> names the serving one
/// (absent: <c>read.db</c>). The pointer is replaced atomically, so a crash leaves either generation serving.
/// The data directory belongs to one server at a time, so every other generation found when the serving one is opened
/// was left by a crash (a rebuild that never switched, or an old generation not yet deleted) and is deleted then.
/// </summary>
public sealed class SqliteReadStoreGenerations(string dataDirectory) : IReadStoreGenerations
{
    private const string DefaultFile = "read.db";
    private string Pointer => Path.Combine(dataDirectory, "read.current");

    public IReadStore OpenCurrent()
    {
        var file = Path.GetFileName(File.Exists(Pointer) ? File.ReadAllText(Pointer).Trim() : DefaultFile);
        DeleteAllBut(file);
        return new SqliteReadStore(Path.Combine(dataDirectory, file));
    }

    /// <summary>Deletes every generation's files (database, WAL, shared memory) but <paramref name="serving"/>'s, and a half-written pointer.</summary>
    private void DeleteAllBut(string serving)
    {
        var generations = Directory.GetFiles(dataDirectory, "read-*.db*").Concat(Directory.GetFiles(dataDirectory, DefaultFile + "*"));
        foreach (var file in generations.Where(f => !Path.GetFileName(f).StartsWith(serving, StringComparison.Ordinal))) File.Delete(file);
        File.Delete(Pointer + ".tmp");
    }

    public Task<IReadStore> CreateNextAsync(CancellationToken ct)
    {
        var file = $"read-{DateTime.UtcNow:yyyyMMddHHmmssfff}.db";
        foreach (var stale in Directory.GetFiles(dataDirectory, file + "*")) File.Delete(stale);
        return Task.FromResult<IReadStore>(SqliteReadStore.ForBulkLoad(Path.Combine(dataDirectory, file)));
    }

    public Task FinishLoadAsync(IReadStore next, CancellationToken ct) => ((SqliteReadStore)next).FinishLoadAsync(ct);

    public Task SwitchAsync(IReadStore current, IReadStore next, CancellationToken ct)
    {
        var (old, fresh) = ((SqliteReadStore)current, (SqliteReadStore)next);
        var temporary = Pointer + ".tmp";
        File.WriteAllText(temporary, Path.GetFileName(fresh.Path));
        File.Move(temporary, Pointer, overwrite: true);
        Delete(old);
        return Task.CompletedTask;
    }

    public Task DropAsync(IReadStore abandoned, CancellationToken ct)
    {
        Delete((SqliteReadStore)abandoned);
        return Task.CompletedTask;
    }

    /// <summary>Closes a generation and deletes its file with its WAL and shared-memory files.</summary>
    private void Delete(SqliteReadStore generation)
    {
        generation.Dispose();
        foreach (var file in Directory.GetFiles(dataDirectory, Path.GetFileName(generation.Path) + "*")) File.Delete(file);
    }
}
