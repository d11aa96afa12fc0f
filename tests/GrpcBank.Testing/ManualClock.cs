namespace GrpcBank.Testing;

/// <summary>
/// A clock a test moves by hand: <see cref="Advance"/> moves time that passes (the wall clock and the monotonic
/// timestamp alike), <see cref="SetWallClockBy"/> only the wall clock, as an operator or NTP sets it. Timers still run in
/// real time: only "now" and the timestamps are the test's.
/// </summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long ticks = start.UtcTicks;
    private long wallOffset;

    public ManualClock() : this(DateTimeOffset.UtcNow) { }

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref ticks) + Interlocked.Read(ref wallOffset), TimeSpan.Zero);

    public override long GetTimestamp() => Interlocked.Read(ref ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);

    public void SetWallClockBy(TimeSpan by) => Interlocked.Add(ref wallOffset, by.Ticks);
}
