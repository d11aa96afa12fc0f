using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Events a consumer could not handle (bad data, a bug), set aside so the events behind them keep flowing.
/// Never a silent skip: each is logged, counted in the projection status, listed, and can be retried.
/// </summary>
public interface IDeadLetters
{
    /// <summary>
    /// Records (or refreshes) the dead letter of <paramref name="consumer"/> for this event. True when it is new: a
    /// redelivery (at-least-once) fails the same event again, and only refreshes the letter it already has.
    /// </summary>
    Task<bool> AddAsync(string consumer, RecordedEvent e, string error, DateTimeOffset failedAt, CancellationToken ct);

    /// <summary>Dead letters in position order after <paramref name="afterPosition"/>, and how many there are in all.</summary>
    Task<DeadLetterPage> ListAsync(long afterPosition, int maxCount, CancellationToken ct);

    Task RemoveAsync(string consumer, long position, CancellationToken ct);
}

public sealed record DeadLetter(string Consumer, RecordedEvent Event, string Error, DateTimeOffset FailedAt);

public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, long TotalSize);
