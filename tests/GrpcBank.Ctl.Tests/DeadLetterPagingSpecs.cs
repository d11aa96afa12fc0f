using GrpcBank.Application.EventStore;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl deadletters list, page by page with --after, on a bank of its own (the seeded one has none).</summary>
public sealed class DeadLetterPagingSpecs : IAsyncLifetime
{
    private BankHost host = null!;
    private IReadOnlyList<RecordedEvent> events = [];

    public async ValueTask InitializeAsync()
    {
        host = await BankHost.StartEmbeddedAsync();
        var opened = await Ctl.RunAsync(host, "seed", "--accounts", "4", "--orders", "1");
        Assert.True(opened.ExitCode == 0, opened.Stderr);
        var store = host.Get<IEventStore>();
        events = await store.ReadAllAsync(0, 3, CancellationToken.None);
        // Set aside by hand (as the relay would): three events, the read side's.
        foreach (var e in events) await store.DeadLetters.AddAsync("read-side", e, "test", DateTimeOffset.UtcNow, CancellationToken.None);
    }

    public ValueTask DisposeAsync() => host.DisposeAsync();

    [Fact]
    public async Task TheLastPageAfterAPosition_OffersNoNextPage_WhileAFullOneDoes()
    {
        var full = await Ctl.RunAsync(host, "deadletters", "list", "--max", "2");
        var last = await Ctl.RunAsync(host, "deadletters", "list", "--after", events[1].Position.ToString(), "--max", "2");

        Assert.Equal($"2 shown, 3 in all. Next page: --after {events[1].Position}", full.Lines[^1]);
        Assert.Equal("1 shown, 3 in all.", last.Lines[^1]);
    }
}
