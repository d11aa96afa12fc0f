namespace GrpcBank.Server.Hosting;

/// <summary>
/// SIGTERM or Ctrl+C while the server starts up stops it once it has started, not in the middle of its start. The host
/// hands its start-up steps a token that a stop cancels, and each (the warm-ups, Kestrel's bind) ends with an
/// OperationCanceledException that the host logs as "Hosting failed to start" and rethrows: the process died of an
/// unhandled exception (exit code 134) for a stop that was asked for. The signals (<see cref="StopSignals"/>) stop
/// through this lifetime, which defers its stop until the host has started (a second or two: the
/// warm-ups), or until the host's shutdown timeout has passed, so a start that hangs can still be stopped.
/// </summary>
public sealed class StopAfterStart(IHostApplicationLifetime host, TimeSpan patience) : IHostApplicationLifetime
{
    private int asked;

    public CancellationToken ApplicationStarted => host.ApplicationStarted;

    public CancellationToken ApplicationStopping => host.ApplicationStopping;

    public CancellationToken ApplicationStopped => host.ApplicationStopped;

    public void StopApplication()
    {
        if (host.ApplicationStarted.IsCancellationRequested || Interlocked.Exchange(ref asked, 1) == 1)
        {
            // Started, or asked a second time: at once.
            host.StopApplication();
            return;
        }
        host.ApplicationStarted.Register(host.StopApplication);
        _ = Task.Delay(patience).ContinueWith(_ => host.StopApplication(), TaskScheduler.Default);
    }
}
