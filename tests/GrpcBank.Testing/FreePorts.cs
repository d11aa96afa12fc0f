using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace GrpcBank.Testing;

/// <summary>
/// Loopback ports for a process the test starts later on a fixed port (a server, PostgreSQL, RabbitMQ, a metrics
/// endpoint). They are drawn below the kernel's ephemeral range: a port the OS hands out for port 0 is one it also
/// hands to outgoing connections, so between asking and binding any client socket of the test run could take it
/// (a server of the multi-server specs once failed to start that way). Below the range only another listener can, and
/// the test assemblies run side by side, each in its own process: a port is also reserved across them by a lock on a
/// file named for it (<see cref="Reserve"/>), held until the process ends.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 10_000;
    private static readonly ConcurrentDictionary<int, FileStream?> HandedOut = new();
    private static readonly string LockDirectory = Path.Combine(Path.GetTempPath(), "grpcbank-ports");

    /// <summary>A loopback port nothing listens on now, outside the ephemeral range, not handed out before in this run.</summary>
    public static int Next()
    {
        var ephemeralLow = EphemeralLow();
        for (var attempt = 0; attempt < 1_000 && ephemeralLow - Lowest > 1_000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, ephemeralLow);
            if (HandedOut.TryAdd(port, null) && Reserve(port) && CanListenOn(port)) return port;
        }
        // No room below the range (an unusual kernel setting): the OS's pick, with the race described above.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Locks the file named for <paramref name="port"/> for the rest of this process (FileShare.None is an exclusive
    /// flock on Unix, which the system lets go when the process ends, however it ends); false when another test process
    /// holds it. The empty files stay, to be locked again: deleting one could take it from under a process that holds it.
    /// </summary>
    private static bool Reserve(int port)
    {
        try
        {
            Directory.CreateDirectory(LockDirectory);
            HandedOut[port] = new FileStream(Path.Combine(LockDirectory, $"{port}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite,
                FileShare.None, bufferSize: 1);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
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
