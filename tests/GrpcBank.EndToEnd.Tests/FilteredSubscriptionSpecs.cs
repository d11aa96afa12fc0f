using System.Diagnostics;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Testing;
using RecordedEvent = GrpcBank.Contracts.History.V1.RecordedEvent;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// SubscribeAll with <c>event_type_prefixes</c>: resumed from the last position received across a restart, and across a
/// long run of events the filter leaves out. The proto has no progress message (a response carries one event), so a
/// filtered subscriber's checkpoint stays at its last matching event and a resume reads the skipped run again.
/// </summary>
public abstract class FilteredSubscriptionSpecs : BankSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Deposited = "accounts.MoneyDeposited.v1";

    [Fact]
    public async Task AFilteredSubscriberResumingFromItsLastPositionAcrossARestart_GetsEveryMatchingEventOnce_AndNoOther()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);
        var other = await Bank.OpenAsync(deposit: 1_000);
        var received = new List<RecordedEvent>();
        var prefixes = new[] { "accounts.MoneyWithdrawn", "accounts.AccountOpened" };

        // Withdrawals (matching) among many deposits (not), before, during and after the restart.
        async Task WriteAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                await Host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = other, AmountMinor = 1, CurrencyCode = "EUR" }, cancellationToken: Ct);
                if (i % 10 == 0)
                    await Host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }, cancellationToken: Ct);
            }
        }

        await WriteAsync(60);
        // The stop ends the call (UNAVAILABLE, or CANCELLED here, where the test host drops its channel first).
        var ended = await ReadUntilEndedAsync(0, prefixes, received, () => Host.RestartAsync());
        Assert.NotEqual(StatusCode.OK, ended);
        await WriteAsync(60);
        var expected = (await ReadEverythingAsync()).Where(e => prefixes.Any(p => e.EventType.StartsWith(p, StringComparison.Ordinal))).ToList();
        await ReadUntilEndedAsync(received.Count > 0 ? received[^1].Position : 0, prefixes, received, until: expected[^1].Position);

        Assert.Equal(expected.Select(e => (e.Position, e.EventId.ToString())), received.Select(e => (e.Position, e.EventId)));
        Assert.True(expected.Count(e => e.EventType.StartsWith("accounts.MoneyWithdrawn", StringComparison.Ordinal)) == 12, $"{expected.Count}");
    }

    [Fact]
    public async Task ALongRunOfEventsTheFilterLeavesOut_DoesNotStallTheSubscriber_TheNextMatchingEventComesAtOnce()
    {
        var id = await Bank.OpenAsync();
        var head = await Host.Get<IEventStore>().HeadPositionAsync(Ct);
        using var stop = new CancellationTokenSource();
        using var call = new HistoryService.HistoryServiceClient(Host.Channel)
            .SubscribeAll(new SubscribeAllRequest { FromPosition = head, EventTypePrefixes = { "accounts.MoneyWithdrawn" } }, cancellationToken: stop.Token);
        var first = call.ResponseStream.MoveNext(stop.Token);

        await AppendDepositsAsync(id, 1, 20_000);
        var clock = Stopwatch.StartNew();
        await Host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }, cancellationToken: Ct);

        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal("accounts.MoneyWithdrawn.v1", call.ResponseStream.Current.Event.EventType);
        Assert.True(call.ResponseStream.Current.Event.Position > head + 20_000);
        TestContext.Current.TestOutputHelper?.WriteLine($"the withdrawal after 20,000 deposits came {clock.ElapsedMilliseconds} ms after it was written");

        var match = call.ResponseStream.Current.Event.EventId;
        call.Dispose(); // the server's one slot (Subscriptions:MaxTotal 1) for the resume

        // The resume a filtered subscriber makes: from its last match, before the run, which is read again.
        clock.Restart();
        using var resumed = new HistoryService.HistoryServiceClient(Host.Channel)
            .SubscribeAll(new SubscribeAllRequest { FromPosition = head, EventTypePrefixes = { "accounts.MoneyWithdrawn" } }, cancellationToken: stop.Token);
        Assert.True(await resumed.ResponseStream.MoveNext(Ct));
        Assert.Equal(match, resumed.ResponseStream.Current.Event.EventId);
        TestContext.Current.TestOutputHelper?.WriteLine($"a resume before the run of 20,000 took {clock.ElapsedMilliseconds} ms to its next match");
        await stop.CancelAsync();
    }

    [Fact]
    public async Task AFilteredSubscriptionScanningALongRunItsCallerLeft_GivesItsSlotBackAtOnce_NotAtTheEndOfTheRun()
    {
        var id = await Bank.OpenAsync();
        await AppendDepositsAsync(id, 1, 200_000);
        var history = new HistoryService.HistoryServiceClient(Host.Channel);

        var clock = Stopwatch.StartNew();
        using (var left = history.SubscribeAll(new SubscribeAllRequest { EventTypePrefixes = { "nothing.matches" } }, cancellationToken: Ct))
        {
            await Task.Delay(300, Ct); // scanning the run: it sends nothing
        }
        // The server's only slot (Subscriptions:MaxTotal 1) is free again once the left call has ended.
        StatusCode code;
        do
        {
            using var again = history.SubscribeAll(new SubscribeAllRequest { FromPosition = await Host.Get<IEventStore>().HeadPositionAsync(Ct) },
                deadline: DateTime.UtcNow.AddMilliseconds(200), cancellationToken: Ct);
            try
            {
                await again.ResponseStream.MoveNext(Ct);
                code = StatusCode.OK;
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
            }
        } while (code == StatusCode.ResourceExhausted && clock.Elapsed < TimeSpan.FromSeconds(60));

        TestContext.Current.TestOutputHelper?.WriteLine($"the slot came back {clock.ElapsedMilliseconds} ms after the call began");
        Assert.NotEqual(StatusCode.ResourceExhausted, code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the slot came back only after {clock.ElapsedMilliseconds} ms: the scan went on after its caller left");
    }

    /// <summary>Deposits written straight to the store, 2,000 to an append: a long run quickly.</summary>
    private async Task AppendDepositsAsync(string id, long fromVersion, int count)
    {
        var store = Host.Get<IEventStore>();
        var version = (await store.ReadStreamBackwardAsync($"account-{id}", long.MaxValue, 1, Ct))[0].StreamVersion;
        var data = $$"""{"accountId":"{{id}}","amountMinor":1,"currencyCode":"EUR"}""";
        for (var written = 0; written < count; written += 2_000)
        {
            await store.AppendAsync(new AppendRequest($"account-{id}", version, [.. Enumerable.Range(0, 2_000)
                .Select(_ => new EventData(Guid.NewGuid(), Deposited, data, "{}"))], null, DateTimeOffset.UtcNow), Ct);
            version += 2_000;
        }
    }

    /// <summary>
    /// Subscribes after <paramref name="from"/> and adds what comes to <paramref name="received"/>, until the call ends or
    /// <paramref name="until"/> has come; <paramref name="meanwhile"/> runs once the first event has. Returns how the call ended.
    /// </summary>
    private async Task<StatusCode> ReadUntilEndedAsync(long from, string[] prefixes, List<RecordedEvent> received, Func<Task>? meanwhile = null, long until = long.MaxValue)
    {
        var request = new SubscribeAllRequest { FromPosition = from };
        request.EventTypePrefixes.AddRange(prefixes);
        using var call = new HistoryService.HistoryServiceClient(Host.Channel).SubscribeAll(request, deadline: DateTime.UtcNow.AddSeconds(60), cancellationToken: Ct);
        Task? running = null;
        try
        {
            while (await call.ResponseStream.MoveNext(Ct))
            {
                received.Add(call.ResponseStream.Current.Event);
                if (received[^1].Position >= until) return StatusCode.OK;
                running ??= Task.Run(meanwhile ?? (() => Task.CompletedTask), Ct);
            }
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
        catch (ObjectDisposedException) when (meanwhile is not null)
        {
            // The test host's restart disposes the channel the call was on: a read then finds the call disposed rather
            // than cancelled (CI). Either way the call ended; what it delivered is what the spec judges.
            return StatusCode.Cancelled;
        }
        finally
        {
            if (running is not null) await running;
        }
    }

    private async Task<List<GrpcBank.Application.EventStore.RecordedEvent>> ReadEverythingAsync()
    {
        var store = Host.Get<IEventStore>();
        var all = new List<GrpcBank.Application.EventStore.RecordedEvent>();
        IReadOnlyList<GrpcBank.Application.EventStore.RecordedEvent> page;
        while ((page = await store.ReadAllAsync(all.Count > 0 ? all[^1].Position : 0, 1_000, Ct)).Count > 0) all.AddRange(page);
        return all;
    }
}

public sealed class EmbeddedFilteredSubscriptionSpecs : FilteredSubscriptionSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(("Subscriptions:MaxTotal", "1"));
}

public sealed class PostgresFilteredSubscriptionSpecs(PostgresServer postgres) : FilteredSubscriptionSpecs
{
    protected override async Task<BankHost> StartHostAsync() =>
        await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), ("Subscriptions:MaxTotal", "1"));
}
