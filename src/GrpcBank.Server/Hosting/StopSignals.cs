using System.Runtime.InteropServices;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// SIGTERM, SIGINT (Ctrl+C) and SIGQUIT, heard from Program's first line to its last. The host's console lifetime took
/// them over only as the host started, after the stores had opened (PostgreSQL's migrations, which wait for another
/// server's; a large SQLite file): a signal before then met the runtime's default and ended the process with 143, a stop
/// asked for that looked like a kill. Before the host runs, a signal cancels <see cref="StartUp"/>, which the stores'
/// opening heeds, and the server exits 0 without serving; once the host runs, it asks the host to stop
/// (<see cref="StopAfterStart"/>). Only a signal before Program's first line (the runtime's own start, a fraction of a
/// second) still ends the process with 143: nothing of the server has run yet.
/// </summary>
public sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource startUp = new();
    private readonly Lock gate = new();
    private readonly PosixSignalRegistration[] registrations;
    private IHostApplicationLifetime? host;
    private bool disposed;

    private StopSignals() =>
        registrations = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT }.Select(s => PosixSignalRegistration.Create(s, Heard))];

    public static StopSignals Register() => new();

    /// <summary>Cancelled by a signal heard before the host runs.</summary>
    public CancellationToken StartUp => startUp.Token;

    /// <summary>From now on a signal stops the host; one heard before stops it now (once it has started).</summary>
    public void HandTo(IHostApplicationLifetime lifetime)
    {
        bool heard;
        // Under the lock, so that each signal is one request to stop: either heard before (and asked here) or after.
        lock (gate)
        {
            host = lifetime;
            heard = startUp.IsCancellationRequested;
        }
        if (heard) lifetime.StopApplication();
    }

    private void Heard(PosixSignalContext context)
    {
        // The end is the server's own stop, not the signal's default.
        context.Cancel = true;
        IHostApplicationLifetime? running;
        lock (gate)
        {
            running = host;
            if (running is null && !disposed) startUp.Cancel();
        }
        running?.StopApplication();
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
        }
        foreach (var registration in registrations) registration.Dispose();
        startUp.Dispose();
    }
}
