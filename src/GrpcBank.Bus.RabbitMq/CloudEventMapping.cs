using System.Diagnostics;
using System.Globalization;
using System.Net.Mime;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using GrpcBank.Application;
using GrpcBank.Application.EventStore;

namespace GrpcBank.Bus.RabbitMq;

/// <summary>
/// How a stored event becomes a CloudEvents 1.0 message (PROTOCOL.md, "Event bus"): the one home of the mapping that
/// consumers outside the bank depend on. Structured mode, JSON: the whole CloudEvent is the message body.
/// </summary>
public static class CloudEventMapping
{
    /// <summary>
    /// The global position. A string, not a CloudEvents Integer: those are 32-bit, and positions are 64-bit.
    /// </summary>
    public static readonly CloudEventAttribute Position = CloudEventAttribute.CreateExtension("position", CloudEventAttributeType.String);

    /// <summary>The event's version within its stream (<c>subject</c>); a decimal string like <see cref="Position"/>.</summary>
    public static readonly CloudEventAttribute StreamVersion = CloudEventAttribute.CreateExtension("streamversion", CloudEventAttributeType.String);

    /// <summary>W3C trace context of the request that wrote the event (CloudEvents distributed tracing extension).</summary>
    public static readonly CloudEventAttribute TraceParent = CloudEventAttribute.CreateExtension("traceparent", CloudEventAttributeType.String);

    public static readonly CloudEventAttribute TraceState = CloudEventAttribute.CreateExtension("tracestate", CloudEventAttributeType.String);

    public static readonly IReadOnlyList<CloudEventAttribute> Extensions = [Position, StreamVersion, TraceParent, TraceState];

    private static readonly JsonEventFormatter Formatter = new();

    /// <summary>The CloudEvent of <paramref name="e"/>. Throws <see cref="JsonException"/> when its stored payload is not JSON.</summary>
    public static CloudEvent ToCloudEvent(RecordedEvent e, Uri source)
    {
        using var data = JsonDocument.Parse(e.DataJson);
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0, Extensions)
        {
            Id = e.EventId.ToString(),
            Type = e.EventType,
            Source = source,
            Subject = e.StreamId,
            Time = e.RecordedAt,
            DataContentType = MediaTypeNames.Application.Json,
            Data = data.RootElement.Clone(),
            [Position] = e.Position.ToString(CultureInfo.InvariantCulture),
            [StreamVersion] = e.StreamVersion.ToString(CultureInfo.InvariantCulture),
        };
        // The trace continues in the consumer: the context stored with the event is the span of the request that wrote it.
        if (Telemetry.StoredTraceContext(e.MetadataJson) is { } trace)
        {
            var sampled = (trace.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00";
            cloudEvent[TraceParent] = $"00-{trace.TraceId}-{trace.SpanId}-{sampled}";
            if (trace.TraceState is { Length: > 0 } state) cloudEvent[TraceState] = state;
        }
        return cloudEvent;
    }

    /// <summary>The message body of <paramref name="cloudEvent"/> and its content type (<c>application/cloudevents+json</c>).</summary>
    public static ReadOnlyMemory<byte> Encode(CloudEvent cloudEvent, out string contentType)
    {
        var body = Formatter.EncodeStructuredModeMessage(cloudEvent, out var type);
        contentType = type.ToString();
        return body;
    }

    /// <summary>Reads a message body back (for consumers written in C#, and the tests).</summary>
    public static CloudEvent Decode(ReadOnlyMemory<byte> body, string? contentType) =>
        Formatter.DecodeStructuredModeMessage(body, contentType is null ? null : new ContentType(contentType), Extensions);
}
