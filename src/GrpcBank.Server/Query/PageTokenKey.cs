using System.Security.Cryptography;
using System.Text;
using GrpcBank.Server.Hosting;

namespace GrpcBank.Server.Query;

/// <summary>
/// The key that signs page tokens. <c>Query:PageTokenKey</c> when configured; servers that share one database behind one
/// address must all be given the same one, or a token from one is refused by the others. Otherwise a random key is
/// generated once and kept in the data directory (<c>page-token.key</c>, readable by the owner only), so tokens
/// survive a restart of a single server.
/// </summary>
public static class PageTokenKey
{
    public const string Setting = "Query:PageTokenKey";
    public const string FileName = "page-token.key";
    private const int MinLength = 32;

    public static byte[] Load(IConfiguration configuration, string dataDirectory)
    {
        if (configuration[Setting] is { Length: > 0 } configured)
            return configured.Length >= MinLength
                ? SHA256.HashData(Encoding.UTF8.GetBytes(configured))
                : throw new StartupRefusedException($"{Setting} is too short: use at least {MinLength} random characters");
        var path = Path.Combine(dataDirectory, FileName);
        string kept;
        try
        {
            if (!File.Exists(path)) Create(path);
            kept = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException($"The page-token key '{path}' cannot be kept ({e.Message}). Set {Setting}, or make the folder writable.", e);
        }
        // What Create writes; anything else (an emptied or edited file) would sign with a weak key or abort with a bare FormatException.
        return kept.Length == 64 && kept.All(char.IsAsciiHexDigit)
            ? Convert.FromHexString(kept)
            : throw new StartupRefusedException($"The page-token key '{path}' is not 64 hexadecimal digits: delete it for a new one (page tokens given out so far stop working), or set {Setting}.");
    }

    /// <summary>Written to a temporary file and moved into place, so a server starting alongside reads a whole key or makes its own.</summary>
    private static void Create(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new StreamWriter(temporary, Encoding.ASCII, options))
            file.Write(Convert.ToHexString(RandomNumberGenerator.GetBytes(32)));
        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary); // another server process made it first: use theirs
        }
    }
}
