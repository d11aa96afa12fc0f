using System.Diagnostics;
using System.Runtime;

namespace GrpcBank.Server.Hosting;

/// <summary>The runtime's compilations in the background (recompilations of hot methods at a higher tier, and the like).</summary>
public static class BackgroundCompilation
{
    /// <summary>How long the runtime must compile nothing before its background compilations count as done.</summary>
    private static readonly TimeSpan QuietFor = TimeSpan.FromMilliseconds(150);

    /// <summary>The longest a warm-up waits for them.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Waits until the runtime has compiled nothing for a while, at most <see cref="Patience"/>. Returns how many methods it
    /// compiled meanwhile and when it last did. Otherwise those compilations share the cores with the work that follows.
    /// </summary>
    public static async Task<(long Compiled, TimeSpan QuietAfter)> QuietAsync()
    {
        var waited = Stopwatch.StartNew();
        var first = JitInfo.GetCompiledMethodCount();
        var (count, quietSince) = (first, waited.Elapsed);
        while (waited.Elapsed - quietSince < QuietFor && waited.Elapsed < Patience)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20));
            if (JitInfo.GetCompiledMethodCount() is var now && now != count) (count, quietSince) = (now, waited.Elapsed);
        }
        return (count - first, quietSince);
    }
}
