using Grpc.Core;

namespace GrpcBank.Ctl.Cli;

/// <summary>
/// A live tail cut off by its server: a stop (UNAVAILABLE, reason SERVER_STOPPING) or a server gone mid-stream (kill -9,
/// a failover). Said as such, with the position to resume from, instead of as a server that was never there.
/// </summary>
public static class SubscriptionEnd
{
    /// <summary>
    /// The stream had begun: the server said UNAVAILABLE (a stop), the transport broke mid-response (an
    /// <see cref="IOException"/>, where a server that was never there fails to connect with an
    /// <see cref="HttpRequestException"/>), or events had come.
    /// </summary>
    public static bool IsEndOfAStartedSubscription(RpcException e, int received) => e.Status.DebugException switch
    {
        IOException => e.StatusCode is StatusCode.Unavailable or StatusCode.Internal,
        null => e.StatusCode == StatusCode.Unavailable, // the server's own word: a stop
        _ => e.StatusCode == StatusCode.Unavailable && received > 0,
    };

    /// <summary>What ended the tail, and the command line that picks it up after <paramref name="last"/>, the last position printed.</summary>
    public static Failure Describe(RpcException e, Uri server, long last, IEnumerable<string> prefixes)
    {
        var resume = $"Resume with:  bankctl subscribe --from-position {last}{string.Concat(prefixes.Select(p => $" --prefix {p}"))}";
        if (e.Status.DebugException is IOException lost)
            return new(ExitCode.Unreachable, $"bankctl: the subscription ended: the connection to {server} was lost ({lost.Message}).\n{resume}");
        var said = Failure.Describe(e, server);
        return said with { Message = $"{said.Message.Replace(Failure.RefusedLead, "bankctl: the subscription ended", StringComparison.Ordinal)}\n{resume}" };
    }
}
