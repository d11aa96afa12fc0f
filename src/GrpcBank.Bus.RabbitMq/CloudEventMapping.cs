using System.Buffers;
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

    /// <summary>The content type of a structured-mode JSON CloudEvent, as the SDK's formatter names it.</summary>
    public const string ContentType = "application/cloudevents+json; charset=utf-8";

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
        if (TraceContext(e) is { } trace)
        {
            cloudEvent[TraceParent] = trace.Parent;
            if (trace.State is { } state) cloudEvent[TraceState] = state;
        }
        return cloudEvent;
    }

    /// <summary>
    /// Writes the structured-mode JSON body of <paramref name="e"/>'s CloudEvent — the same attributes as
    /// <see cref="ToCloudEvent"/> encoded by the SDK (a spec holds the two together) — straight to <paramref name="output"/>:
    /// the bus's hot path, which the SDK's object model and formatter slowed (a document parse and clone and some 11 kB
    /// of garbage per message). The payload is copied as it is stored, after a validation that throws
    /// <see cref="JsonException"/> when it is not JSON (a poison event).
    /// </summary>
    public static void WriteBody(RecordedEvent e, string source, IBufferWriter<byte> output)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("specversion", "1.0");
        json.WriteString("id", e.EventId);
        json.WriteString("source", source);
        json.WriteString("type", e.EventType);
        json.WriteString("subject", e.StreamId);
        json.WriteString("time", e.RecordedAt.UtcDateTime); // RFC 3339 in UTC: 2026-12-02T14:07:23.811Z
        json.WriteString("datacontenttype", MediaTypeNames.Application.Json);
        Span<char> number = stackalloc char[20];
        json.WriteString(Position.Name, number[..Format(e.Position, number)]);
        json.WriteString(StreamVersion.Name, number[..Format(e.StreamVersion, number)]);
        if (TraceContext(e) is { } trace)
        {
            json.WriteString(TraceParent.Name, trace.Parent);
            if (trace.State is { } state) json.WriteString(TraceState.Name, state);
        }
        json.WritePropertyName("data");
        json.WriteRawValue(e.DataJson);
        json.WriteEndObject();
    }

    private static int Format(long value, Span<char> into) => value.TryFormat(into, out var written, default, CultureInfo.InvariantCulture) ? written : 0;

    /// <summary>
    /// The trace continues in the consumer: the context stored with the event is the span of the request that wrote it,
    /// as a W3C <c>traceparent</c> (and <c>tracestate</c>).
    /// </summary>
    private static (string Parent, string? State)? TraceContext(RecordedEvent e)
    {
        if (Telemetry.StoredTraceContext(e.MetadataJson) is not { } trace) return null;
        var sampled = (trace.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00";
        return ($"00-{trace.TraceId}-{trace.SpanId}-{sampled}", trace.TraceState is { Length: > 0 } state ? state : null);
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
