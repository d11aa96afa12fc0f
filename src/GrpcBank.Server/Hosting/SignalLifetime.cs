using Microsoft.Extensions.Options;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The host's lifetime in place of the console lifetime, whose signal handlers came only as the host started
/// (<see cref="StopSignals"/>): the same status lines, and the signals handed over to a stop that waits for the start
/// (<see cref="StopAfterStart"/>).
/// </summary>
public sealed class SignalLifetime(StopSignals signals, IHostApplicationLifetime lifetime, IHostEnvironment environment, ILoggerFactory loggers)
    : IHostLifetime
{
    // The console lifetime's category: the lines are filtered and read as before.
    private readonly ILogger logger = loggers.CreateLogger("Microsoft.Hosting.Lifetime");

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            logger.LogInformation("Application started. Press Ctrl+C to shut down.");
            logger.LogInformation("Hosting environment: {EnvName}", environment.EnvironmentName);
            logger.LogInformation("Content root path: {ContentRoot}", environment.ContentRootPath);
        });
        lifetime.ApplicationStopping.Register(() => logger.LogInformation("Application is shutting down..."));
        signals.HandTo(lifetime);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The lifetime for the host's services: signals stop through <see cref="StopAfterStart"/>.</summary>
    public static IHostLifetime For(IServiceProvider services, StopSignals signals) => new SignalLifetime(
        signals,
        new StopAfterStart(services.GetRequiredService<IHostApplicationLifetime>(), services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout),
        services.GetRequiredService<IHostEnvironment>(), services.GetRequiredService<ILoggerFactory>());
}
