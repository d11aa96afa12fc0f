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
        var stripe = stripes[StripeOf(streamId)];
        await stripe.WaitAsync(ct);
        return new Releaser([stripe]);
    }

    /// <summary>
    /// The locks of several streams (a decision over two accounts and a payment). Stripes are taken in one global order,
    /// each once, so two commands over the same streams (A→B and B→A) never wait for each other in a circle.
    /// </summary>
    public async Task<IDisposable> AcquireAsync(IEnumerable<string> streamIds, CancellationToken ct)
    {
        var taken = new List<SemaphoreSlim>();
        try
        {
            foreach (var index in streamIds.Select(StripeOf).Distinct().Order())
            {
                await stripes[index].WaitAsync(ct);
                taken.Add(stripes[index]);
            }
        }
        catch
        {
            new Releaser(taken).Dispose();
            throw;
        }
        return new Releaser(taken);
    }

    private int StripeOf(string streamId) => (int)((uint)StringComparer.Ordinal.GetHashCode(streamId) % (uint)stripes.Length);

    private sealed class Releaser(IReadOnlyList<SemaphoreSlim> taken) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
                foreach (var stripe in taken) stripe.Release();
        }
    }
}
