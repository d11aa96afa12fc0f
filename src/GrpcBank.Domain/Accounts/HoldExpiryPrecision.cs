namespace GrpcBank.Domain.Accounts;

/// <summary>
/// A hold's expiry is kept to the whole microsecond: both read stores keep times to the microsecond, so that is what
/// ListHolds shows, and a client that sends back the expiry it was shown re-places the same hold. Finer digits (a
/// Timestamp carries nanoseconds, .NET keeps 100 ns ticks) are dropped where an expiry is made; holds stored before
/// that still carry them, so the same-hold rule compares at this precision too (their events are never rewritten).
/// </summary>
public static class HoldExpiryPrecision
{
    /// <summary><paramref name="at"/> without its digits below the microsecond (towards the past, as the read stores store it).</summary>
    public static DateTimeOffset Of(DateTimeOffset at) => at.AddTicks(-(at.UtcTicks % TimeSpan.TicksPerMicrosecond));

    public static bool Same(DateTimeOffset a, DateTimeOffset b) => Of(a) == Of(b);
}
