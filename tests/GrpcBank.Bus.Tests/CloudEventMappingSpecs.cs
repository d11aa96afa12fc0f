using System.Text.Json;
using GrpcBank.Application.EventStore;
using GrpcBank.Bus.RabbitMq;

namespace GrpcBank.Bus.Tests;

/// <summary>The message body consumers read, byte for byte in meaning (no broker needed).</summary>
public sealed class CloudEventMappingSpecs
{
    private static readonly RecordedEvent Withdrawal = new(
        1234, "account-ada", 3, Guid.Parse("01a23714-dc96-7e80-8c4d-59879db55943"), "accounts.MoneyWithdrawn.v1",
        """{"accountId":"ada","amountMinor":2550,"currencyCode":"EUR","reference":"rent"}""",
        """{"requestId":"r-1","traceparent":"00-554c4441d4cddecb10048ec7b3defc32-c7ca7bd3ec1ffb6f-01","tracestate":"vendor=1"}""",
        new DateTimeOffset(2026, 12, 2, 14, 7, 23, 811, TimeSpan.Zero));

    [Fact]
    public void GivenAStoredEvent_WhenEncoded_ThenTheBodyIsAStructuredCloudEventWithTheProtocolsAttributes()
    {
        var body = CloudEventMapping.Encode(CloudEventMapping.ToCloudEvent(Withdrawal, new Uri("urn:bank:eu-1")), out var contentType);

        Assert.StartsWith("application/cloudevents+json", contentType);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal("1.0", json.GetProperty("specversion").GetString());
        Assert.Equal("01a23714-dc96-7e80-8c4d-59879db55943", json.GetProperty("id").GetString());
        Assert.Equal("accounts.MoneyWithdrawn.v1", json.GetProperty("type").GetString());
        Assert.Equal("urn:bank:eu-1", json.GetProperty("source").GetString());
        Assert.Equal("account-ada", json.GetProperty("subject").GetString());
        Assert.Equal(Withdrawal.RecordedAt, json.GetProperty("time").GetDateTimeOffset());
        Assert.Equal("application/json", json.GetProperty("datacontenttype").GetString());
        Assert.Equal(2550, json.GetProperty("data").GetProperty("amountMinor").GetInt64()); // the payload as JSON, not a string
        Assert.Equal("1234", json.GetProperty("position").GetString());
        Assert.Equal("3", json.GetProperty("streamversion").GetString());
        Assert.Equal("00-554c4441d4cddecb10048ec7b3defc32-c7ca7bd3ec1ffb6f-01", json.GetProperty("traceparent").GetString());
        Assert.Equal("vendor=1", json.GetProperty("tracestate").GetString());
    }

    [Fact]
    public void GivenAnEventWithoutTraceContext_WhenMapped_ThenItHasNoTraceparent_AndDecodesBack()
    {
        var untraced = Withdrawal with { MetadataJson = """{"requestId":null}""" };

        var body = CloudEventMapping.Encode(CloudEventMapping.ToCloudEvent(untraced, new Uri("grpcbank", UriKind.Relative)), out var contentType);
        var decoded = CloudEventMapping.Decode(body, contentType);

        Assert.Null(decoded[CloudEventMapping.TraceParent]);
        Assert.Equal(("grpcbank", "1234", "3"), (decoded.Source!.ToString(), (string?)decoded[CloudEventMapping.Position], (string?)decoded[CloudEventMapping.StreamVersion]));
    }

    [Fact]
    public void GivenAPayloadThatIsNotJson_WhenMapped_ThenItIsAJsonException_WhichTheRelayDeadLetters()
    {
        var broken = Withdrawal with { DataJson = "{not json" };

        var e = Assert.ThrowsAny<JsonException>(() => CloudEventMapping.ToCloudEvent(broken, new Uri("grpcbank", UriKind.Relative)));
        Assert.True(Application.Relay.PoisonEvents.IsPoison(e));
        Assert.False(Application.Relay.PoisonEvents.IsPoison(new BusUnavailableException("the broker is down")));
    }

    [Fact]
    public void TheBusesOwnWriter_WritesTheSameCloudEventAsTheSdk_AttributeForAttribute()
    {
        var source = new Uri("urn:bank:eu-1");
        var sdk = CloudEventMapping.Encode(CloudEventMapping.ToCloudEvent(Withdrawal, source), out var sdkContentType);
        var written = new System.Buffers.ArrayBufferWriter<byte>();

        CloudEventMapping.WriteBody(Withdrawal, source.ToString(), written);

        Assert.Equal(CloudEventMapping.ContentType, sdkContentType);
        var (expected, actual) = (CloudEventMapping.Decode(sdk, sdkContentType), CloudEventMapping.Decode(written.WrittenMemory, CloudEventMapping.ContentType));
        Assert.Equal(
            expected.GetPopulatedAttributes().Select(a => (a.Key.Name, a.Key.Format(a.Value))).OrderBy(a => a.Name),
            actual.GetPopulatedAttributes().Select(a => (a.Key.Name, a.Key.Format(a.Value))).OrderBy(a => a.Name));
        Assert.Equal(JsonSerializer.Serialize(expected.Data), JsonSerializer.Serialize(actual.Data));
    }

    [Fact]
    public void GivenAPayloadThatIsNotJson_WhenWritten_ThenItIsAPoisonJsonException()
    {
        var broken = Withdrawal with { DataJson = "{not json" };

        var e = Assert.ThrowsAny<JsonException>(() => CloudEventMapping.WriteBody(broken, "grpcbank", new System.Buffers.ArrayBufferWriter<byte>()));
        Assert.True(Application.Relay.PoisonEvents.IsPoison(e));
    }
}
