using System.Net;

namespace GrpcBank.Server.Security;

/// <summary>Without API keys the server is open, so it may only listen on loopback addresses.</summary>
public static class ProtectedMode
{
    public static void Check(ApiKeys keys, IEnumerable<string> urls)
    {
        if (!keys.IsOpen) return;
        var exposed = urls.Where(url => !IsLoopback(url)).ToList();
        if (exposed.Count == 0) return;
        throw new InvalidOperationException(
            $"Refusing to listen on {string.Join(", ", exposed)} without API keys: anyone could move money. " +
            "Configure keys (Auth__ApiKeys__0__Key=<secret>, Auth__ApiKeys__0__Roles=teller,auditor,admin) " +
            "or listen on loopback only (--urls http://127.0.0.1:5000).");
    }

    private static bool IsLoopback(string url)
    {
        var host = url.Split("://", 2) is [_, var rest] ? rest : url;
        host = host.Split('/')[0];
        host = host.StartsWith('[') ? host[1..host.IndexOf(']')] : host.Split(':')[0];
        return host == "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }
}
