using GrpcBank.Application.Relay;

namespace GrpcBank.Application.ReadSide;

/// <summary>Read-your-writes: waits until the read side has applied a given position.</summary>
public sealed class ReadSideWaiter(IReadStore readStore, RelayProgress progress)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>The applied position once it is ≥ <paramref name="minPosition"/>, or null when <paramref name="ct"/> ends first.</summary>
    public async Task<long?> WaitForAsync(long minPosition, CancellationToken ct)
    {
        while (true)
        {
            // Observe the wake-up before reading, so an advance between the two is not missed.
            var advanced = progress.Advanced.WaitAsync(PollInterval, ct);
            var applied = await readStore.AppliedPositionAsync(CancellationToken.None);
            if (applied >= minPosition) return applied;
            try
            {
                await advanced;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }
}
