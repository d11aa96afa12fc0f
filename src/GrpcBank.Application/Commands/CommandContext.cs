using System.Text.Json;
using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Commands;

/// <summary>What travels with a command besides its content: idempotency key, causality and caller.</summary>
/// <param name="RequestId">The client's idempotency key, or null.</param>
/// <param name="Fingerprint">A hash of the request as the client sent it; the same key with another fingerprint is refused.</param>
public sealed record CommandContext(
    string? RequestId = null,
    string? Fingerprint = null,
    string? CorrelationId = null,
    string? CausationId = null,
    string? Principal = null)
{
    public static readonly CommandContext None = new();

    public string MetadataJson() => JsonSerializer.Serialize(
        new { requestId = RequestId, correlationId = CorrelationId, causationId = CausationId, principal = Principal },
        EventCodec<object>.Json);
}
