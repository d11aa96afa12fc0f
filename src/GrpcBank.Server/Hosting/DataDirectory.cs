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

public sealed class DataDirectoryException(string message, Exception inner) : StartupRefusedException(message, inner);
