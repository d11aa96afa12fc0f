namespace GrpcBank.Application.Relay;

/// <summary>Elects the single active relay; others wait here until the holder goes away.</summary>
public interface IRelayLease
{
    /// <summary>Completes once this process is the active relay. <see cref="Lease.Lost"/> fires if that ends.</summary>
    Task<Lease> AcquireAsync(CancellationToken ct);
}

public sealed class Lease(CancellationToken lost, IAsyncDisposable release) : IAsyncDisposable
{
    public CancellationToken Lost { get; } = lost;

    public ValueTask DisposeAsync() => release.DisposeAsync();
}

/// <summary>A single-process deployment (embedded mode) is always the active relay.</summary>
public sealed class InProcessRelayLease : IRelayLease
{
    public Task<Lease> AcquireAsync(CancellationToken ct) =>
        Task.FromResult(new Lease(CancellationToken.None, new NoRelease()));

    private sealed class NoRelease : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
