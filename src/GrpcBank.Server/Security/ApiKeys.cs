using System.Security.Cryptography;
using System.Text;
using GrpcBank.Server.Hosting;

namespace GrpcBank.Server.Security;

/// <summary>A role grants access to one group of services (PROTOCOL.md, Errors; ARCHITECTURE.md, Configuration).</summary>
public enum Role { Teller, Auditor, Admin }

/// <summary>A configured key: only its SHA-256 is kept in memory.</summary>
public sealed record ApiKey(string Name, byte[] Hash, IReadOnlySet<Role> Roles);

/// <summary>
/// The bearer keys from configuration (<c>Auth:ApiKeys:N:Key</c> or <c>Auth:ApiKeys:N:KeyHash</c> as hex SHA-256,
/// <c>Auth:ApiKeys:N:Roles</c> as a comma-separated list or as .NET's array form <c>Roles:0</c>, <c>Roles:1</c> (a JSON
/// array in appsettings.json), optional <c>Auth:ApiKeys:N:Name</c>).
/// </summary>
public sealed class ApiKeys
{
    private readonly IReadOnlyList<ApiKey> keys;

    public ApiKeys(IConfiguration configuration)
    {
        var sections = configuration.GetSection("Auth:ApiKeys").GetChildren().ToList();
        keys = sections.Select(Parse).ToList();
        // A key's name is the principal recorded in each event's metadata and the caller whose rate and subscriptions are
        // counted: two keys under one name could not be told apart. One secret in two entries would have the roles of
        // whichever Find met last. Either is a mistake of configuration, refused before anything is served.
        for (var i = 1; i < keys.Count; i++)
            for (var j = 0; j < i; j++)
            {
                if (keys[i].Name == keys[j].Name)
                    throw new StartupRefusedException(
                        $"Auth:ApiKeys:{sections[i].Key} and Auth:ApiKeys:{sections[j].Key} are both named '{keys[i].Name}' (Name, or key-N without one): give each key a name of its own");
                if (keys[i].Hash.AsSpan().SequenceEqual(keys[j].Hash))
                    throw new StartupRefusedException(
                        $"Auth:ApiKeys:{sections[i].Key} has the same secret as Auth:ApiKeys:{sections[j].Key}: give each key a secret of its own, with all its roles");
            }
    }

    /// <summary>No keys configured: the server runs open, and only on loopback (see <see cref="ProtectedMode"/>).</summary>
    public bool IsOpen => keys.Count == 0;

    /// <summary>The key whose hash matches, compared in constant time; null when none does.</summary>
    public ApiKey? Find(string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiKey? found = null;
        // Every key is compared, so the time taken does not tell which (or whether one) matched.
        foreach (var key in keys)
            if (CryptographicOperations.FixedTimeEquals(hash, key.Hash)) found = key;
        return found;
    }

    private static ApiKey Parse(IConfigurationSection section)
    {
        var name = section["Name"] is { Length: > 0 } n ? n : $"key-{section.Key}";
        var hash = section["Key"] is { Length: > 0 } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key))
            : section["KeyHash"] is { Length: > 0 } hex ? HashOf(section.Key, hex)
            : throw new StartupRefusedException($"Auth:ApiKeys:{section.Key} needs Key (the secret) or KeyHash (its SHA-256 in hex)");
        if (section["Key"] is { Length: < 16 })
            throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Key is too short: use at least 16 random characters");
        // A header carries it: a key with another character (an accent, a line end from a secret file) was kept, and no
        // call could ever present it (clients refuse such a header, Kestrel a request with one).
        if (section["Key"] is { } secret && (!secret.All(c => c is >= ' ' and <= '~') || secret.Trim() != secret))
            throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Key holds a character an HTTP header cannot carry: use printable ASCII, no space at either end");
        var listed = section.GetSection("Roles").GetChildren().Select(role => role.Value ?? "").Prepend(section["Roles"] ?? "");
        var roles = listed.SelectMany(list => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(r => Setting.TryName<Role>(r, out var role)
                ? role
                : throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Roles: unknown role '{r}' (teller, auditor, admin)"))
            .ToHashSet();
        if (roles.Count == 0) throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Roles is empty (teller, auditor, admin)");
        return new ApiKey(name, hash, roles);
    }

    /// <summary>A KeyHash as bytes; one that is not a SHA-256 in hex refuses to start (it was an abort with a stack trace, or "needs Key or KeyHash").</summary>
    private static byte[] HashOf(string index, string hex) =>
        hex.Length == 2 * SHA256.HashSizeInBytes && hex.All(char.IsAsciiHexDigit)
            ? Convert.FromHexString(hex)
            : throw new StartupRefusedException($"Auth:ApiKeys:{index}:KeyHash is not 64 hexadecimal digits (the key's SHA-256, e.g. from sha256sum)");
}
