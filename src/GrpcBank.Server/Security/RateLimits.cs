using GrpcBank.Server.Hosting;
using System.Threading.RateLimiting;

namespace GrpcBank.Server.Security;

/// <summary>
/// The call rates a caller may use (<c>Auth:RequestsPerSecond</c> per key, or per peer address for calls without one)
/// and how fast one peer address may fail to authenticate (<c>Auth:FailedAuthenticationsPerSecond</c>, with a burst of
/// four times that): beyond it, guesses from that address are refused before their key is even looked at.
/// </summary>
public sealed class RateLimits
{
    private readonly PartitionedRateLimiter<string> requests;
    private readonly PartitionedRateLimiter<string> failures;

    /// <summary>
    /// The highest <c>Auth:FailedAuthenticationsPerSecond</c>: one failure comes back every 1/rate seconds, a time span of
    /// whole 100 ns ticks, which above this rate is zero ticks, and the burst (4 × rate) is an int, which overflowed above
    /// 536,870,911. Either way the token bucket refused its options (ArgumentException) when a peer was first looked at,
    /// so with API keys every call to a keyed service failed. Far beyond any rate at which locking out guessers means
    /// anything.
    /// </summary>
    public const int MaxFailuresPerSecond = (int)TimeSpan.TicksPerSecond;

    public RateLimits(IConfiguration configuration)
    {
        var perSecond = Setting.Above(configuration, "Auth:RequestsPerSecond", 10_000, 0);
        requests = PartitionedRateLimiter.Create<string, string>(caller =>
            RateLimitPartition.GetTokenBucketLimiter(caller, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
            }));
        var failuresPerSecond = Setting.Above(configuration, "Auth:FailedAuthenticationsPerSecond", 5, 0,
            (MaxFailuresPerSecond, "one failure back per 100 ns tick"));
        FailureReplenished = TimeSpan.FromSeconds(1.0 / failuresPerSecond);
        // One token back every 1/rate seconds, not all at once per second: a locked-out peer with the right key
        // gets in as soon as the first one is back.
        failures = PartitionedRateLimiter.Create<string, string>(peer =>
            RateLimitPartition.GetTokenBucketLimiter(peer, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = 4 * failuresPerSecond,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = FailureReplenished,
                QueueLimit = 0,
            }));
    }

    /// <summary>
    /// A lease for one call of <paramref name="caller"/>, or null when it is over its rate; then
    /// <paramref name="retryAfter"/> is how long until it has a call again.
    /// </summary>
    public RateLimitLease? TryAdmit(string caller, out TimeSpan retryAfter)
    {
        var lease = requests.AttemptAcquire(caller);
        retryAfter = TimeSpan.Zero;
        if (lease.IsAcquired) return lease;
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        lease.Dispose();
        return null;
    }

    /// <summary>False while <paramref name="peer"/> has not one whole failed authentication left (asking takes nothing).</summary>
    public bool MayAuthenticate(string peer) => failures.GetStatistics(peer)?.CurrentAvailablePermits >= 1;

    /// <summary>The longest wait of a peer that may not authenticate before it may again: one failure comes back.</summary>
    public TimeSpan FailureReplenished { get; }

    public void AuthenticationFailed(string peer) => failures.AttemptAcquire(peer).Dispose();
}
