using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// grpcbank.append.duration has one measurement per append, by result, whether the append was handed over alone or in
/// a group: its count by result is how many appends went which way.
/// </summary>
public sealed class TracedEventStoreSpecs
{
    private static AppendRequest Append(string stream) =>
        new(stream, 0, [new EventData(Guid.NewGuid(), "t", "{}", "{}")], null, DateTimeOffset.UnixEpoch);

    [Fact]
    public async Task AGroupOfAppendsThatFails_IsMeasuredAsOneErrorPerAppend_AsAWrittenGroupIsOnePerAppend()
    {
        var store = new InMemoryEventStore();
        var traced = new TracedEventStore(store);
        var measured = new List<string>();
        using var listener = FlowMeasurements.Listen(Telemetry.AppendDuration, measured, tags => tags["result"]!);

        await traced.AppendGroupAsync([Append("account-a"), Append("account-b"), Append("account-c")], Ct);
        store.BeforeGroup = _ => throw new IOException("connection reset by peer");
        // Each of these appends fails (its command is answered UNAVAILABLE): an operator's share of failed appends must count three.
        await Assert.ThrowsAsync<IOException>(() => traced.AppendGroupAsync([Append("account-d"), Append("account-e"), Append("account-f")], Ct));

        Assert.Equal(["appended", "appended", "appended", "error", "error", "error"], measured);
    }
}
