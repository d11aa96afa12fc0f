namespace GrpcBank.Server.Hosting;

/// <summary>
/// The embedded stores' folder, checked before anything opens a database in it: a folder the server may not write to
/// would otherwise surface later as a bare "unable to open database file" without the path.
/// </summary>
public static class DataDirectory
{
    /// <summary>Creates <paramref name="path"/> if needed and proves it writable; throws <see cref="DataDirectoryException"/> naming it if not.</summary>
    public static void EnsureWritable(string path)
    {
        var probe = Path.Combine(path, $".write-probe-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(path);
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException(
                $"The data directory '{path}' is not writable ({e.Message}). Fix its permissions or set Storage:DataDirectory to a writable folder.", e);
        }
    }
}

/// <summary>
/// The embedded stores' folder held by this server alone, for as long as it runs (an exclusive lock on its
/// <see cref="FileName"/>, which the system lets go when the process ends, even by kill -9). Two servers on one folder
/// would each run a relay into the same read store and each trust its own cache of the same streams.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = "server.lock";

    private readonly FileStream file;

    private DataDirectoryLock(FileStream file, string folder) => (this.file, Folder) = (file, folder);

    /// <summary>The folder held.</summary>
    public string Folder { get; }

    /// <summary>Takes the lock; throws <see cref="DataDirectoryException"/> naming the folder when another server holds it.</summary>
    public static DataDirectoryLock Take(string path)
    {
        var lockFile = Path.Combine(path, FileName);
        try
        {
            var file = new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            file.Write(System.Text.Encoding.UTF8.GetBytes($"{Environment.ProcessId}\n"));
            file.Flush();
            return new DataDirectoryLock(file, path);
        }
        catch (IOException e)
        {
            throw new DataDirectoryException(
                $"The data directory '{path}' is in use by another server (it holds {lockFile}). Stop that server, or set Storage:DataDirectory to another folder.", e);
        }
    }

    public void Dispose() => file.Dispose();
}

public sealed class DataDirectoryException(string message, Exception inner) : StartupRefusedException(message, inner);
