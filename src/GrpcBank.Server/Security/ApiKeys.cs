using System.Security.Cryptography;
using System.Text;

namespace GrpcBank.Server.Security;

/// <summary>A role grants access to one group of services (PROTOCOL.md, Errors; ARCHITECTURE.md, Configuration).</summary>
public enum Role { Teller, Auditor, Admin }

/// <summary>A configured key: only its SHA-256 is kept in memory.</summary>
public sealed record ApiKey(string Name, byte[] Hash, IReadOnlySet<Role> Roles);

/// <summary>
/// The bearer keys from configuration (<c>Auth:ApiKeys:N:Key</c> or <c>Auth:ApiKeys:N:KeyHash</c> as hex SHA-256,
/// <c>Auth:ApiKeys:N:Roles</c> as a comma-separated list, optional <c>Auth:ApiKeys:N:Name</c>).
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

    /// <summary>What a caller without a valid key is told.</summary>
    public const string Missing = "send a valid API key as 'authorization: Bearer <key>'";

    /// <summary>The key presented in an <c>authorization: Bearer &lt;key&gt;</c> header; null when there is none or it is unknown.</summary>
    public ApiKey? FromAuthorization(string? header) =>
        header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? Find(header["Bearer ".Length..].Trim()) : null;

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
            : throw new InvalidOperationException($"Auth:ApiKeys:{section.Key} needs Key (the secret) or KeyHash (its SHA-256 in hex)");
        if (section["Key"] is { Length: < 16 })
            throw new InvalidOperationException($"Auth:ApiKeys:{section.Key}:Key is too short: use at least 16 random characters");
        var roles = (section["Roles"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => Enum.TryParse<Role>(r, ignoreCase: true, out var role)
                ? role
                : throw new InvalidOperationException($"Auth:ApiKeys:{section.Key}:Roles: unknown role '{r}' (teller, auditor, admin)"))
            .ToHashSet();
        if (roles.Count == 0) throw new InvalidOperationException($"Auth:ApiKeys:{section.Key}:Roles is empty (teller, auditor, admin)");
        return new ApiKey(name, hash, roles);
    }
}
