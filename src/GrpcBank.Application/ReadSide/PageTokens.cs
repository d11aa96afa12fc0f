using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Opaque, tamper-evident page tokens: the keyset cursor plus a fingerprint of the query it belongs to, signed with an
/// HMAC under a key only the servers hold. A token replayed with other filters or order, or altered in any byte, is refused.
/// </summary>
public sealed class PageTokens(byte[] key)
{
    private const int SignatureBytes = 16;

    public string Encode(SortKey? after, string queryFingerprint)
    {
        if (after is null) return "";
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Token(after.Value, after.Id, Fingerprint(queryFingerprint)));
        return Base64Url(payload) + "." + Base64Url(Sign(payload));
    }

    /// <summary>False when the token is malformed, altered, or belongs to a different query; an empty token is the first page.</summary>
    public bool TryDecode(string token, string queryFingerprint, out SortKey? after)
    {
        after = null;
        if (token.Length == 0) return true;
        try
        {
            if (token.Split('.') is not [var payloadText, _]) return false;
            var payload = FromBase64Url(payloadText);
            // Re-issuing the token from its payload must give exactly the token: a wrong signature, or any other spelling
            // of the same bytes, is refused.
            var genuine = Encoding.ASCII.GetBytes(Base64Url(payload) + "." + Base64Url(Sign(payload)));
            if (!CryptographicOperations.FixedTimeEquals(genuine, Encoding.ASCII.GetBytes(token))) return false;
            var decoded = JsonSerializer.Deserialize<Token>(payload);
            if (decoded is not { V: not null, I: not null, Q: not null } || decoded.Q != Fingerprint(queryFingerprint)) return false;
            after = new SortKey(decoded.V, decoded.I);
            return true;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return false;
        }
    }

    private byte[] Sign(byte[] payload) => HMACSHA256.HashData(key, payload)[..SignatureBytes];

    private static string Fingerprint(string query) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(query)))[..16];

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        var base64 = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(base64 + new string('=', (4 - base64.Length % 4) % 4));
    }

    private sealed record Token(string V, string I, string Q);
}
