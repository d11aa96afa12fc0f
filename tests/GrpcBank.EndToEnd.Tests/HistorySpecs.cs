using System.Collections.Concurrent;
using System.Text.Json;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>History, time travel and the live event feed, through gRPC. Runs on each store.</summary>
public abstract class HistorySpecs : BankSpecs
{
    private HistoryService.HistoryServiceClient History => new(Host.Channel);

    /// <summary>What the server logs: the derived class starts its host with it.</summary>
    protected CapturedLogs Logs { get; } = new();

    [Fact]
    public async Task ReadStream_ReturnsTheStoredEventsInVersionOrder_PageByPage()
    {
        var id = await Bank.OpenAsync(deposit: 100);
        await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 40, CurrencyCode = "EUR", RequestId = NewId() });

        var first = await History.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}", MaxCount = 2 });
        var rest = await History.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}", FromVersion = first.NextVersion });

        Assert.Equal([1L, 2L], first.Events.Select(e => e.StreamVersion));
        Assert.Equal(3, first.NextVersion);
        Assert.Equal(0, rest.NextVersion);
        var withdrawn = Assert.Single(rest.Events);
        Assert.Equal("accounts.MoneyWithdrawn.v1", withdrawn.EventType);
        Assert.Equal(40, JsonDocument.Parse(withdrawn.DataJson).RootElement.GetProperty("amountMinor").GetInt64());
        Assert.Equal(JsonValueKind.String, JsonDocument.Parse(withdrawn.MetadataJson).RootElement.GetProperty("requestId").ValueKind);
        Assert.True(withdrawn.Position > first.Events[1].Position);
    }

    [Fact]
    public async Task GetAccountAsOf_EveryVersion_EqualsTheStateAfterThatManyEvents()
    {
        var id = await Bank.OpenAsync();
        var expected = new List<(long Version, long Balance, AccountStatus Status)> { (1, 0, AccountStatus.Active) };
        foreach (var amount in new[] { 500L, 250L, -100L, 75L, -725L })
        {
            var reply = amount > 0
                ? (await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = amount, CurrencyCode = "EUR" })).Version
                : (await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = -amount, CurrencyCode = "EUR" })).Version;
            expected.Add((reply, expected[^1].Balance + amount, AccountStatus.Active));
        }
        var frozen = await Bank.Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id });
        expected.Add((frozen.Version, 0, AccountStatus.Frozen));
        var closed = await Bank.Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = id });
        expected.Add((closed.Version, 0, AccountStatus.Closed));

        foreach (var (version, balance, status) in expected)
        {
            var asOf = await History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfVersion = version });
            Assert.Equal((version, balance, status, "EUR"), (asOf.Version, asOf.BalanceMinor, asOf.Status, asOf.CurrencyCode));
        }
    }

    [Fact]
    public async Task GetAccountAsOf_ATime_IsTheStateAfterEverythingRecordedByThen()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);
        await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 300, CurrencyCode = "EUR" });
        var events = (await History.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}" })).Events;

        var atDeposit = await History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfTime = events[1].RecordedAt });
        var now = await History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow.AddMinutes(1)) });
        var before = events[0].RecordedAt.ToDateTimeOffset().AddSeconds(-1);

        Assert.Equal((2, 1_000), (atDeposit.Version, atDeposit.BalanceMinor));
        Assert.Equal(events[1].RecordedAt, atDeposit.AsOf);
        Assert.Equal((3, 700), (now.Version, now.BalanceMinor));
        await Rejected("ACCOUNT_NOT_FOUND", () => History.GetAccountAsOfAsync(new GetAccountAsOfRequest
        {
            AccountId = id, AsOfTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(before),
        }).ResponseAsync, StatusCode.NotFound);
    }

    [Fact]
    public async Task MalformedHistoryRequests_AreInvalidArgument_NamingTheFields()
    {
        var id = await Bank.OpenAsync();

        await Invalid(() => History.ReadStreamAsync(new ReadStreamRequest { StreamId = "ledger-1" }).ResponseAsync, "stream_id");
        await Invalid(() => History.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}", FromVersion = -1, MaxCount = 5_000 }).ResponseAsync, "from_version", "max_count");
        await Invalid(() => History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id }).ResponseAsync, "as_of");
        await Invalid(() => History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfVersion = 99 }).ResponseAsync, "as_of_version");
        await Invalid(() => History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = "", AsOfVersion = 0 }).ResponseAsync, "account_id", "as_of_version");
        await Invalid(async () =>
        {
            using var call = History.SubscribeAll(new SubscribeAllRequest { FromPosition = -1 });
            await call.ResponseStream.MoveNext();
        }, "from_position");
    }

    [Fact]
    public async Task SubscribeAllFromZero_DeliversExactlyWhatTheStreamsHold_InGlobalOrder_WhileTenWritersAppend()
    {
        var accounts = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Bank.OpenAsync()));
        var received = new ConcurrentQueue<RecordedEvent>();
        using var stop = new CancellationTokenSource();
        using var call = History.SubscribeAll(new SubscribeAllRequest(), cancellationToken: stop.Token);
        var reader = Task.Run(async () =>
        {
            try
            {
                while (await call.ResponseStream.MoveNext(stop.Token)) received.Enqueue(call.ResponseStream.Current.Event);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
            {
            }
        });

        await Task.WhenAll(accounts.Select(async id =>
        {
            for (var i = 1; i <= 20; i++)
                await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = i, CurrencyCode = "EUR" });
        }));
        var streams = new List<RecordedEvent>();
        foreach (var id in accounts)
            streams.AddRange((await History.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}", MaxCount = 1_000 })).Events);
        var head = streams.Max(e => e.Position);
        await Bank.EventuallyAsync(() => Task.FromResult(received.Any(e => e.Position == head) ? received : null));
        await stop.CancelAsync();
        await reader;

        var fromSubscription = received.Where(e => e.StreamId.StartsWith("account-")).ToList();
        Assert.Equal(fromSubscription.Select(e => e.Position).Order(), fromSubscription.Select(e => e.Position));
        Assert.Equal(fromSubscription.Count, fromSubscription.Select(e => e.Position).Distinct().Count());
        Assert.Equal(streams.OrderBy(e => e.Position).Select(e => (e.EventId, e.StreamId, e.StreamVersion, e.Position)),
            fromSubscription.Where(e => accounts.Contains(e.StreamId["account-".Length..])).Select(e => (e.EventId, e.StreamId, e.StreamVersion, e.Position)));
        Assert.Equal(10 * 21, fromSubscription.Count(e => accounts.Contains(e.StreamId["account-".Length..])));
    }

    [Fact]
    public async Task SubscribeAll_FromAPosition_WithPrefixes_DeliversOnlyLaterMatchingEvents()
    {
        var id = await Bank.OpenAsync(deposit: 10);
        var withdrawn = await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 5, CurrencyCode = "EUR" });
        var deposited = await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 7, CurrencyCode = "EUR" });

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var call = History.SubscribeAll(new SubscribeAllRequest
        {
            FromPosition = withdrawn.Position - 1, EventTypePrefixes = { "accounts.MoneyDeposited", "accounts.MoneyWithdrawn" },
        }, cancellationToken: stop.Token);
        var first = new List<RecordedEvent>();
        while (first.Count < 2 && await call.ResponseStream.MoveNext(stop.Token)) first.Add(call.ResponseStream.Current.Event);

        Assert.Equal([withdrawn.Position, deposited.Position], first.Select(e => e.Position));
        Assert.Equal(["accounts.MoneyWithdrawn.v1", "accounts.MoneyDeposited.v1"], first.Select(e => e.EventType));
    }

    [Fact]
    public async Task SubscribeAll_FromBeyondTheNewestEvent_IsOutOfRangeAtOnce_NamingTheHead_WhileFromTheHeadItWaitsForTheNext()
    {
        var deposited = await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = await Bank.OpenAsync(), AmountMinor = 1, CurrencyCode = "EUR" });
        var head = await Host.Get<GrpcBank.Application.EventStore.IEventStore>().HeadPositionAsync(CancellationToken.None);

        var beyond = await Rejected("FROM_POSITION_BEYOND_HEAD", async () =>
        {
            using var call = History.SubscribeAll(new SubscribeAllRequest { FromPosition = head + 1_000 });
            await call.ResponseStream.MoveNext();
        }, StatusCode.OutOfRange);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var fromHead = History.SubscribeAll(new SubscribeAllRequest { FromPosition = head }, cancellationToken: stop.Token);
        var next = fromHead.ResponseStream.MoveNext(stop.Token);
        var later = await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = await Bank.OpenAsync(), AmountMinor = 1, CurrencyCode = "EUR" });

        Assert.True(head >= deposited.Position);
        Assert.Equal(head.ToString(), beyond.Metadata["head_position"]);
        Assert.True(await next);
        Assert.True(fromHead.ResponseStream.Current.Event.Position > head);
        Assert.True(later.Position > head);
    }

    [Fact]
    public async Task SubscriptionsEndedByTheirDeadlineMidStream_EndQuietly_AreNoServerError_AndGiveTheirSlotsBack()
    {
        var id = await Bank.OpenAsync();
        // Enough history that the deadline finds the server writing: it ends the call a moment before it fires the call's
        // token, and a write in that moment was refused with an InvalidOperationException, logged as a bug.
        await Host.Get<GrpcBank.Application.EventStore.IEventStore>().AppendAsync(new GrpcBank.Application.EventStore.AppendRequest(
            $"account-{id}", 1, [.. Enumerable.Range(0, 20_000).Select(_ => new GrpcBank.Application.EventStore.EventData(Guid.NewGuid(),
                "accounts.MoneyDeposited.v1", $$"""{"accountId":"{{id}}","amountMinor":1,"currencyCode":"EUR","reference":"r"}""", "{}"))],
            null, DateTimeOffset.UtcNow), CancellationToken.None);

        var ended = new List<RpcException>();
        for (var i = 0; i < 60; i++)
        {
            using var call = History.SubscribeAll(new SubscribeAllRequest(), deadline: DateTime.UtcNow.AddMilliseconds(100 + 5 * i));
            try
            {
                while (await call.ResponseStream.MoveNext())
                {
                }
            }
            catch (RpcException e)
            {
                ended.Add(e);
            }
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var after = History.SubscribeAll(new SubscribeAllRequest(), cancellationToken: stop.Token);
        var stillServed = await after.ResponseStream.MoveNext(stop.Token);
        await stop.CancelAsync();

        // A deadline that finds a write under way may reset the stream (grpc-dotnet), which the client hears as UNAVAILABLE
        // or CANCELLED when the reset comes before its own timer, or as INTERNAL without status details (the gRPC spec maps
        // a reset with NO_ERROR or INTERNAL_ERROR so, as DeadlineSpecs found); never as a server error, which carries the
        // bank's ErrorInfo and is logged (below).
        // A subscription has no end of its own: each of the 60 ends by its deadline, and a call that ended OK is not judged.
        Assert.Equal(60, ended.Count);
        Assert.All(ended, e => Assert.True(e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable or StatusCode.Cancelled
            || (e.StatusCode == StatusCode.Internal && e.GetRpcStatus() is null), e.ToString()));
        Assert.True(stillServed);
        Assert.DoesNotContain(Logs.Lines, line => line.StartsWith("Error ") && line.Contains("SubscribeAll"));
    }
}
