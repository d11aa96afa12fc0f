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
        keys = configuration.GetSection("Auth:ApiKeys").GetChildren().Select(Parse).ToList();
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
            : section["KeyHash"] is { Length: 64 } hex ? Convert.FromHexString(hex)
            : throw new StartupRefusedException($"Auth:ApiKeys:{section.Key} needs Key (the secret) or KeyHash (its SHA-256 in hex)");
        if (section["Key"] is { Length: < 16 })
            throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Key is too short: use at least 16 random characters");
        var listed = section.GetSection("Roles").GetChildren().Select(role => role.Value ?? "").Prepend(section["Roles"] ?? "");
        var roles = listed.SelectMany(list => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(r => Enum.TryParse<Role>(r, ignoreCase: true, out var role)
                ? role
                : throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Roles: unknown role '{r}' (teller, auditor, admin)"))
            .ToHashSet();
        if (roles.Count == 0) throw new StartupRefusedException($"Auth:ApiKeys:{section.Key}:Roles is empty (teller, auditor, admin)");
        return new ApiKey(name, hash, roles);
    }
}
