using GrpcBank.Application.EventStore;

namespace GrpcBank.Stores.Tests;

/// <summary>Events and request-log entries for store tests: fresh ids, fixed content and time.</summary>
public static class TestEvents
{
    /// <summary>With microseconds, the precision both engines keep.</summary>
    public static readonly DateTimeOffset RecordedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1230);

    public static EventData Event(string type = "test.Happened.v1", string data = """{"n":1}""") =>
        new(Guid.NewGuid(), type, data, """{"requestId":"r"}""");

    public static RequestLogEntry Request(string id) => new(id, $"fingerprint-{id}", $$"""{"reply":"{{id}}"}""");

    public static AppendRequest Append(string stream, long expected, params EventData[] events) =>
        new(stream, expected, events, null, RecordedAt);
}
