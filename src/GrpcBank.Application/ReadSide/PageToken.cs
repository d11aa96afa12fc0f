using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Opaque page tokens: the keyset cursor plus a fingerprint of the query it belongs to, so a token is
/// refused when replayed with other filters or order. Tokens are not secrets; tampering yields a clear error.
/// </summary>
public static class PageToken
{
    public static string Encode(SortKey? after, string queryFingerprint) =>
        after is null
            ? ""
            : Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(new Token(after.Value, after.Id, Fingerprint(queryFingerprint))))
                .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>False when the token is malformed or belongs to a different query; an empty token is the first page.</summary>
    public static bool TryDecode(string token, string queryFingerprint, out SortKey? after)
    {
        after = null;
        if (token.Length == 0) return true;
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var decoded = JsonSerializer.Deserialize<Token>(Convert.FromBase64String(base64));
            if (decoded is not { V: not null, I: not null, Q: not null } || decoded.Q != Fingerprint(queryFingerprint)) return false;
            after = new SortKey(decoded.V, decoded.I);
            return true;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return false;
        }
    }

    private static string Fingerprint(string query) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(query)))[..16];

    private sealed record Token(string V, string I, string Q);
}
