using GrpcBank.Domain;

namespace GrpcBank.Application.Commands;

/// <summary>The answer to a command: what the client is told, as a value.</summary>
public abstract record CommandOutcome
{
    private CommandOutcome() { }

    public sealed record Accepted(CommandReply Reply) : CommandOutcome;

    public sealed record Rejected(Rejection Rejection) : CommandOutcome;

    /// <summary>The stream was not at the version the caller (or every retry) expected.</summary>
    public sealed record WrongExpectedVersion(long ExpectedVersion, long ActualVersion) : CommandOutcome;

    /// <summary>The idempotency key was already used for a different request.</summary>
    public sealed record RequestIdReused(string RequestId) : CommandOutcome;
}

/// <summary>What a successful command returns; stored in the request log and replayed verbatim on a retry.</summary>
/// <param name="Position">The global position of the last event written (the consistency token).</param>
public sealed record CommandReply(string AggregateId, long Version, long Position, long? BalanceMinor = null);
