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

    /// <summary>
    /// The metadata stored with each event. <c>traceparent</c> (and <c>tracestate</c>) carry the W3C trace context of
    /// the command being handled, so the relay and its sinks continue the same trace (<see cref="Telemetry"/>).
    /// </summary>
    public string MetadataJson()
    {
        var (traceParent, traceState) = Telemetry.CurrentTraceContext();
        return JsonSerializer.Serialize(
            new
            {
                requestId = RequestId, correlationId = CorrelationId, causationId = CausationId, principal = Principal,
                traceparent = traceParent, tracestate = string.IsNullOrEmpty(traceState) ? null : traceState,
            },
            EventCodec<object>.Json);
    }
}
