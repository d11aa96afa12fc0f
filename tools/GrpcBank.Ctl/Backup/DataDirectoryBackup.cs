using Microsoft.Data.Sqlite;

namespace GrpcBank.Ctl.Backup;

/// <summary>
/// A copy of an embedded data directory that a server can be started on, taken while the server writes. Each SQLite
/// file is copied by SQLite's online backup in one step, under one read transaction: a snapshot of one moment, which
/// the server's writer does not wait for (WAL mode). The files are not copied at one moment together, so the order
/// matters: the read store first, the event store after it, so the copy's read store is behind its events at worst,
/// which a server started on it makes good by replaying what lies between (ReadStoreSink.StartAsync).
/// </summary>
public static class DataDirectoryBackup
{
    private const string EventStore = "events.db";
    private const string ReadStorePointer = "read.current";
    private const string DefaultReadStore = "read.db";
    private const string PageTokenKey = "page-token.key";

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/>; returns the names of the files copied.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(string source, string destination, CancellationToken ct)
    {
        if (!File.Exists(Path.Combine(source, EventStore)))
            throw new BackupRefusedException($"'{source}' is not a data directory: it has no {EventStore}");
        if (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any())
            throw new BackupRefusedException($"'{destination}' is not empty; back up into a new folder");
        Directory.CreateDirectory(destination);
        var copied = new List<string>();

        // The page tokens clients hold stay valid against the copy (a key set by Query:PageTokenKey is not in the folder).
        if (File.Exists(Path.Combine(source, PageTokenKey)))
        {
            File.Copy(Path.Combine(source, PageTokenKey), Path.Combine(destination, PageTokenKey));
            copied.Add(PageTokenKey);
        }
        // The serving generation, as the pointer names it; a rebuild switching meanwhile deletes the old file, and then
        // the copy goes without a read store, which a server started on it rebuilds from the events.
        var pointer = Path.Combine(source, ReadStorePointer);
        var readStore = File.Exists(pointer) ? Path.GetFileName((await File.ReadAllTextAsync(pointer, ct)).Trim()) : DefaultReadStore;
        if (File.Exists(Path.Combine(source, readStore)) && TryCopy(Path.Combine(source, readStore), Path.Combine(destination, readStore)))
        {
            if (File.Exists(pointer)) await File.WriteAllTextAsync(Path.Combine(destination, ReadStorePointer), readStore, ct);
            copied.Add(readStore);
        }
        ct.ThrowIfCancellationRequested();
        if (!TryCopy(Path.Combine(source, EventStore), Path.Combine(destination, EventStore)))
            throw new BackupRefusedException($"{Path.Combine(source, EventStore)} went away while it was being backed up");
        copied.Add(EventStore);
        return copied;
    }

    /// <summary>One file's snapshot through SQLite's online backup; false if the file was deleted before it could be opened.</summary>
    private static bool TryCopy(string from, string to)
    {
        // ReadWrite, not ReadOnly: a read-only connection cannot open a WAL database whose -shm file it could not create.
        // Never Create, so a file deleted meanwhile is not made again, empty, in the server's folder.
        using var source = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = from, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30,
        }.ToString());
        try
        {
            source.Open();
        }
        catch (SqliteException) when (!File.Exists(from))
        {
            return false;
        }
        using var target = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = to, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false,
        }.ToString());
        target.Open();
        source.BackupDatabase(target);
        return true;
    }
}

/// <summary>A backup that cannot be taken as asked (no data directory, a destination in use).</summary>
public sealed class BackupRefusedException(string message) : Exception(message);
