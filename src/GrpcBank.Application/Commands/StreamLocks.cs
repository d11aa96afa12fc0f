namespace GrpcBank.Application.Commands;

/// <summary>
/// Serialises commands on one stream inside this process, so concurrent commands on a hot account
/// queue instead of colliding; the store's optimistic check still guards against other processes.
/// </summary>
public sealed class StreamLocks
{
    private readonly SemaphoreSlim[] stripes = Enumerable.Range(0, 1024).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<IDisposable> AcquireAsync(string streamId, CancellationToken ct)
    {
        var stripe = stripes[(uint)StringComparer.Ordinal.GetHashCode(streamId) % (uint)stripes.Length];
        await stripe.WaitAsync(ct);
        return new Releaser(stripe);
    }

    private sealed class Releaser(SemaphoreSlim stripe) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) stripe.Release();
        }
    }
}
