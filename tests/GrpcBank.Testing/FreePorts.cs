using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace GrpcBank.Testing;

/// <summary>
/// Loopback ports for a process the test starts later on a fixed port (a server, PostgreSQL, RabbitMQ, a metrics
/// endpoint). They are drawn below the kernel's ephemeral range: a port the OS hands out for port 0 is one it also
/// hands to outgoing connections, so between asking and binding any client socket of the test run could take it
/// (a server of the multi-server specs once failed to start that way). Below the range only another listener can.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 10_000;
    private static readonly ConcurrentDictionary<int, bool> HandedOut = new();

    /// <summary>A loopback port nothing listens on now, outside the ephemeral range, not handed out before in this run.</summary>
    public static int Next()
    {
        var ephemeralLow = EphemeralLow();
        for (var attempt = 0; attempt < 1_000 && ephemeralLow - Lowest > 1_000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, ephemeralLow);
            if (HandedOut.TryAdd(port, true) && CanListenOn(port)) return port;
        }
        // No room below the range (an unusual kernel setting): the OS's pick, with the race described above.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool CanListenOn(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The lowest port of the kernel's ephemeral range.</summary>
    private static int EphemeralLow()
    {
        const string path = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(path) && File.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) is [var low, _]
            && int.TryParse(low, out var port))
            return port;
        return 49_152; // IANA's dynamic range, what Windows and macOS use
    }
}
