using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Testing;
using Google.Protobuf.WellKnownTypes;
using static GrpcBank.EndToEnd.Tests.Rpc;
using RecordedEvent = GrpcBank.Contracts.History.V1.RecordedEvent;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Live subscriptions and time travel while writers append, held against what the store holds at the end: every
/// subscriber, whenever it started and from wherever, sees each event once, in position order, with no gap, each append's
/// events side by side. Runs on each store, and on two servers sharing one PostgreSQL.
/// </summary>
public abstract partial class SubscriptionConsistencySpecs : BankSpecs
{
    private const int Writers = 8;
    private const int OperationsPerWriter = 45;

    /// <summary>The servers the writers spread over (the first is <see cref="BankSpecs.Host"/>).</summary>
    protected virtual IReadOnlyList<BankHost> WriterHosts => [Host];

    /// <summary>The server the subscribers read from: another than the one most writes go through, where there is one.</summary>
    protected virtual BankHost SubscriberHost => Host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SubscribersStartedBeforeDuringAndAfterEightWriters_EachSeeEveryEventOnce_InPositionOrder_NoGap_AppendsWhole()
    {
        var accounts = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Bank.OpenAsync(deposit: 1_000_000)));
        var subscribers = new List<Subscriber> { Subscriber.Start(SubscriberHost, 0) };

        var checkpoint = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var host = WriterHosts[w % WriterHosts.Count];
            var random = new Random(w);
            for (var i = 0; i < OperationsPerWriter; i++)
            {
                var position = await WriteAsync(host, $"w{w}-{i}", i % 3, accounts, random);
                if (w == 0 && i == OperationsPerWriter / 3 && position > 0) checkpoint.TrySetResult(position);
            }
        }, Ct)).ToList();

        // One from a checkpoint in the middle of the writes, one from the head while they run.
        subscribers.Add(Subscriber.Start(SubscriberHost, await checkpoint.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct)));
        subscribers.Add(Subscriber.Start(SubscriberHost, await Host.Get<IEventStore>().HeadPositionAsync(Ct)));
        await Task.WhenAll(writers);
        // And one that only catches up, over many batches of the server's (200 events).
        subscribers.Add(Subscriber.Start(SubscriberHost, 0));

        var all = await ReadEverythingAsync(Host.Get<IEventStore>());
        Assert.True(all.Count > 1_000, $"only {all.Count} events");
        foreach (var subscriber in subscribers)
        {
            var received = await subscriber.UntilAsync(all[^1].Position);
            var expected = all.Where(e => e.Position > subscriber.From).ToList();
            // Exactly the store's events after its start, in its order: each once, none missing, none extra.
            Assert.Equal(expected.Select(e => (e.Position, e.EventId.ToString(), e.StreamId, e.StreamVersion)),
                received.Select(e => (e.Position, e.EventId, e.StreamId, e.StreamVersion)));
            AssertEachAppendIsSideBySide(received);
        }
        Assert.Contains(all, e => e.EventType.StartsWith("payments.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LargeAtomicBatchesThroughEveryServerAtOnce_ComeToASubscriberEachWhole_NoOtherEventBetweenTheirs()
    {
        // Each writer its own accounts: no stream in common, so nothing makes one append wait for another.
        var accounts = await Task.WhenAll(Enumerable.Range(0, 2 * WriterHosts.Count).Select(_ => Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Bank.OpenAsync()))));
        var subscriber = Subscriber.Start(SubscriberHost, await Host.Get<IEventStore>().HeadPositionAsync(Ct));
        // Two writers per server, each batch 3,000 deposits in one append: inserts long enough to run at the same time.
        var last = await Task.WhenAll(Enumerable.Range(0, 2 * WriterHosts.Count).Select(w => Task.Run(async () =>
        {
            var batches = new BatchService.BatchServiceClient(WriterHosts[w % WriterHosts.Count].Channel);
            var position = 0L;
            for (var i = 0; i < 3; i++)
            {
                var request = new ExecuteBatchRequest { Atomic = true };
                request.Commands.AddRange(Enumerable.Range(0, 3_000).Select(k => new BatchCommand
                {
                    Deposit = new DepositMoneyRequest { AccountId = accounts[w][k % 4], AmountMinor = 1, CurrencyCode = "EUR", RequestId = $"w{w}-{i}-{k}" },
                }));
                var reply = await batches.ExecuteBatchAsync(request, cancellationToken: Ct);
                position = Math.Max(position, reply.Results.Max(r => r.Deposit.Position));
            }
            return position;
        }, Ct)));

        var received = await subscriber.UntilAsync(last.Max());
        Assert.Equal(2 * WriterHosts.Count * 3 * 3_000, received.Count(e => AppendOf(e) is not null));
        AssertEachAppendIsSideBySide(received);
    }

    [Fact]
    public async Task ASubscriberAtTheHead_HearsTheNextAppendWrittenThroughAnyServer_AndASecondFromTheSameCheckpointHearsTheSame()
    {
        var id = await Bank.OpenAsync(deposit: 100);
        var head = await Host.Get<IEventStore>().HeadPositionAsync(Ct);
        var first = Subscriber.Start(SubscriberHost, head);
        var second = Subscriber.Start(SubscriberHost, head);
        await Task.Delay(300, Ct); // both caught up and waiting

        var replies = new List<long>();
        foreach (var host in WriterHosts)
            replies.Add((await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }, cancellationToken: Ct)).Position);

        var a = await first.UntilAsync(replies.Max());
        var b = await second.UntilAsync(replies.Max());
        Assert.Equal(replies, a.Select(e => e.Position));
        Assert.Equal(a.Select(e => e.EventId), b.Select(e => e.EventId));
    }

    [Fact]
    public async Task AStalledSubscriber_IsNeitherDroppedNorSkipped_WhileWritersGoOn_AndItsServerHoldsNoBacklogForIt()
    {
        var id = await Bank.OpenAsync();
        var store = Host.Get<IEventStore>();
        // Enough history that the server, were it to read ahead of its client, would hold tens of megabytes.
        var data = $$"""{"accountId":"{{id}}","amountMinor":1,"currencyCode":"EUR","reference":"{{new string('r', 1_000)}}"}""";
        for (var version = 1; version < 20_001; version += 2_000)
            await store.AppendAsync(new AppendRequest($"account-{id}", version, [.. Enumerable.Range(0, 2_000)
                .Select(_ => new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1", data, "{}"))], null, DateTimeOffset.UtcNow), Ct);

        using var stop = new CancellationTokenSource();
        using var call = new HistoryService.HistoryServiceClient(SubscriberHost.Channel).SubscribeAll(new SubscribeAllRequest(), cancellationToken: stop.Token);
        Assert.True(await call.ResponseStream.MoveNext(Ct));
        var received = new List<RecordedEvent> { call.ResponseStream.Current.Event };
        var before = Memory();
        // The client stops reading while commands go on.
        for (var i = 0; i < 50; i++)
            await Host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }, cancellationToken: Ct);
        await Task.Delay(2_000, Ct);
        var grown = Memory() - before;

        var head = await store.HeadPositionAsync(Ct);
        while (received[^1].Position < head && await call.ResponseStream.MoveNext(Ct)) received.Add(call.ResponseStream.Current.Event);
        await stop.CancelAsync();

        // Flow control holds the server at one batch of 200 events (~0.5 MB of text here) plus the transport's windows.
        Assert.True(grown < 12_000_000, $"the process grew by {grown / 1_000_000} MB while its subscriber did not read");
        var all = await ReadEverythingAsync(store);
        Assert.Equal(all.Select(e => e.Position), received.Select(e => e.Position));

        static long Memory()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return GC.GetTotalMemory(forceFullCollection: true);
        }
    }

    [Fact]
    public async Task GetAccountAsOf_AtEveryVersionAndAtEachEventsTimeAndTheMicrosecondBefore_IsTheFoldOfTheStreamsEventsUpToThere()
    {
        var id = await Bank.OpenAsync();
        // Past a snapshot (saved at version 100): as of a version it starts there, as of a time from the first event.
        var balances = new Dictionary<long, long> { [1] = 0 };
        for (var i = 1; i <= 110; i++)
        {
            var amount = i % 4 == 0 ? -i : 3 * i;
            var (version, balance) = amount > 0
                ? await Deposit(amount)
                : await Withdraw(-amount);
            balances[version] = balance;
        }
        var events = (await History.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}", MaxCount = 1_000 }, cancellationToken: Ct)).Events;
        Assert.Equal(balances.Keys.Order(), events.Select(e => e.StreamVersion));
        // The fold, worked out here from the events themselves: each deposit adds, each withdrawal subtracts.
        var folded = new Dictionary<long, long>();
        var running = 0L;
        foreach (var e in events)
        {
            var amount = e.EventType switch
            {
                "accounts.MoneyDeposited.v1" => Amount(e),
                "accounts.MoneyWithdrawn.v1" => -Amount(e),
                _ => 0,
            };
            folded[e.StreamVersion] = running += amount;
        }
        Assert.Equal(balances.OrderBy(b => b.Key), folded.OrderBy(b => b.Key));

        foreach (var e in events)
        {
            var byVersion = await History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfVersion = e.StreamVersion }, cancellationToken: Ct);
            Assert.Equal((e.StreamVersion, folded[e.StreamVersion], e.RecordedAt), (byVersion.Version, byVersion.BalanceMinor, byVersion.AsOf));

            // At its time: every event recorded by then, the last of those recorded at that very time included.
            var at = events.Last(o => o.RecordedAt.ToDateTimeOffset() <= e.RecordedAt.ToDateTimeOffset());
            var byTime = await AsOfTime(e.RecordedAt.ToDateTimeOffset());
            Assert.Equal((at.StreamVersion, folded[at.StreamVersion]), (byTime.Version, byTime.BalanceMinor));
            var withinTheMicrosecond = await AsOfTime(e.RecordedAt.ToDateTimeOffset().AddTicks(9));
            Assert.Equal(byTime.Version, withinTheMicrosecond.Version);

            // A microsecond before: only what was recorded earlier; before the first event, the account did not exist.
            var justBefore = e.RecordedAt.ToDateTimeOffset().AddTicks(-10);
            if (events.LastOrDefault(o => o.RecordedAt.ToDateTimeOffset() <= justBefore) is { } earlier)
            {
                var before = await AsOfTime(justBefore);
                Assert.Equal((earlier.StreamVersion, folded[earlier.StreamVersion]), (before.Version, before.BalanceMinor));
            }
            else
            {
                await Rejected("ACCOUNT_NOT_FOUND", () => AsOfTime(justBefore), StatusCode.NotFound);
            }
        }
        await Invalid(() => History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfVersion = 0 }, cancellationToken: Ct).ResponseAsync, "as_of_version");
        await Invalid(() => History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfVersion = events.Count + 1 }, cancellationToken: Ct).ResponseAsync, "as_of_version");

        async Task<(long, long)> Deposit(long amount)
        {
            var reply = await Host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = amount, CurrencyCode = "EUR" }, cancellationToken: Ct);
            return (reply.Version, reply.BalanceMinor);
        }

        async Task<(long, long)> Withdraw(long amount)
        {
            var reply = await Host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = amount, CurrencyCode = "EUR" }, cancellationToken: Ct);
            return (reply.Version, reply.BalanceMinor);
        }

        async Task<GetAccountAsOfResponse> AsOfTime(DateTimeOffset time) =>
            await History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfTime = Timestamp.FromDateTimeOffset(time) }, cancellationToken: Ct);

        static long Amount(RecordedEvent e) => JsonDocument.Parse(e.DataJson).RootElement.GetProperty("amountMinor").GetInt64();
    }

    private HistoryService.HistoryServiceClient History => new(SubscriberHost.Channel);

    /// <summary>One command of three kinds: a deposit, a transfer (three streams, one append), an atomic batch of three.</summary>
    private static async Task<long> WriteAsync(BankHost host, string requestId, int kind, string[] accounts, Random random)
    {
        var from = accounts[random.Next(accounts.Length)];
        var to = accounts.Where(a => a != from).ElementAt(random.Next(accounts.Length - 1));
        var amount = random.Next(1, 100);
        try
        {
            switch (kind)
            {
                case 0:
                    return (await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest
                    {
                        AccountId = to, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId,
                    }, cancellationToken: Ct)).Position;
                case 1:
                    return (await new PaymentService.PaymentServiceClient(host.Channel).TransferMoneyAsync(Transfer(from, to, amount, requestId), cancellationToken: Ct)).Position;
                default:
                    var reply = await new BatchService.BatchServiceClient(host.Channel).ExecuteBatchAsync(new ExecuteBatchRequest
                    {
                        Atomic = true,
                        Commands =
                        {
                            new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = from, AmountMinor = amount, CurrencyCode = "EUR", RequestId = $"{requestId}-0" } },
                            new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = to, AmountMinor = amount, CurrencyCode = "EUR", RequestId = $"{requestId}-1" } },
                            new BatchCommand { Transfer = Transfer(to, from, amount, $"{requestId}-2") },
                        },
                    }, cancellationToken: Ct);
                    return reply.Results[^1].Transfer.Position;
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Aborted)
        {
            return 0; // a conflict that outlasted the server's retries wrote nothing
        }
    }

    private static TransferMoneyRequest Transfer(string from, string to, long amount, string requestId) => new()
    {
        FromAccountId = from, ToAccountId = to, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId,
    };

    /// <summary>
    /// The events of one append (a writer's command: its request id, a batch's ids sharing its prefix) come one after
    /// another: a reader stopping anywhere has all of an append before that point or none of it.
    /// </summary>
    private static void AssertEachAppendIsSideBySide(IReadOnlyList<RecordedEvent> received)
    {
        var indexed = received.Select((e, index) => (Append: AppendOf(e), Index: index)).Where(e => e.Append is not null);
        foreach (var append in indexed.GroupBy(e => e.Append))
        {
            var (first, last) = (append.First().Index, append.Last().Index);
            var others = last - first + 1 - append.Count();
            Assert.True(others == 0,
                $"append {append.Key}: its events came from position {received[first].Position} to {received[last].Position}, with {others} of other appends between");
        }
    }

    private static string? AppendOf(RecordedEvent e)
    {
        var requestId = JsonDocument.Parse(e.MetadataJson).RootElement.TryGetProperty("requestId", out var id) ? id.GetString() : null;
        return requestId is null ? null : WriterRequest().Match(requestId) is { Success: true } m ? m.Groups[1].Value : null;
    }

    [GeneratedRegex(@"^(w\d+-\d+)(-\d+)?$")]
    private static partial Regex WriterRequest();

    /// <summary>The store's whole global order, once nothing is being written.</summary>
    private static async Task<List<Application.EventStore.RecordedEvent>> ReadEverythingAsync(IEventStore store)
    {
        var head = await store.HeadPositionAsync(Ct);
        var all = new List<Application.EventStore.RecordedEvent>();
        var until = DateTime.UtcNow.AddSeconds(30);
        while ((all.Count == 0 || all[^1].Position < head) && DateTime.UtcNow < until)
        {
            var page = await store.ReadAllAsync(all.Count == 0 ? 0 : all[^1].Position, 1_000, Ct);
            all.AddRange(page);
            if (page.Count == 0) await Task.Delay(20, Ct);
        }
        Assert.Equal(head, all[^1].Position);
        return all;
    }

    /// <summary>A SubscribeAll call read on its own task into a list, from <see cref="From"/>.</summary>
    private sealed class Subscriber
    {
        private readonly ConcurrentQueue<RecordedEvent> received = new();
        private readonly CancellationTokenSource stop = new();
        private Task reading = Task.CompletedTask;

        private Subscriber(long from) => From = from;

        public long From { get; }

        public static Subscriber Start(BankHost host, long from)
        {
            var subscriber = new Subscriber(from);
            var call = new HistoryService.HistoryServiceClient(host.Channel).SubscribeAll(new SubscribeAllRequest { FromPosition = from }, cancellationToken: subscriber.stop.Token);
            subscriber.reading = Task.Run(async () =>
            {
                using (call)
                {
                    try
                    {
                        while (await call.ResponseStream.MoveNext(subscriber.stop.Token)) subscriber.received.Enqueue(call.ResponseStream.Current.Event);
                    }
                    catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && subscriber.stop.IsCancellationRequested)
                    {
                    }
                }
            });
            return subscriber;
        }

        /// <summary>Everything received once the event at <paramref name="position"/> has come (within 60 s); then the call ends.</summary>
        public async Task<List<RecordedEvent>> UntilAsync(long position)
        {
            var until = DateTime.UtcNow.AddSeconds(60);
            while (!received.Any(e => e.Position >= position) && DateTime.UtcNow < until && !reading.IsCompleted) await Task.Delay(20, Ct);
            await stop.CancelAsync();
            await reading;
            Assert.True(received.Any(e => e.Position >= position), $"the subscriber from {From} did not reach {position}; its last was {received.LastOrDefault()?.Position}");
            return [.. received];
        }
    }
}

/// <summary>
/// <see cref="SubscriptionConsistencySpecs.AStalledSubscriber_IsNeitherDroppedNorSkipped_WhileWritersGoOn_AndItsServerHoldsNoBacklogForIt"/>
/// weighs the process's managed heap, which every test class running beside it adds to (28 MB in one CI run, against a
/// bound of 12), so these specs run alone, after the parallel ones.
/// </summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class HeapWeighingCollection;

[Collection(typeof(HeapWeighingCollection))]
public sealed class EmbeddedSubscriptionConsistencySpecs : SubscriptionConsistencySpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

[Collection(typeof(HeapWeighingCollection))]
public sealed class PostgresSubscriptionConsistencySpecs(PostgresServer postgres) : SubscriptionConsistencySpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

/// <summary>Two servers on one PostgreSQL: the writers spread over both, the subscribers read from the second.</summary>
[Collection(typeof(HeapWeighingCollection))]
public sealed class PostgresTwoServerSubscriptionConsistencySpecs(PostgresServer postgres) : SubscriptionConsistencySpecs
{
    private BankHost? other;

    protected override IReadOnlyList<BankHost> WriterHosts => [Host, other!];

    protected override BankHost SubscriberHost => other!;

    protected override async Task<BankHost> StartHostAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        var host = await BankHost.StartPostgresAsync(database);
        other = await BankHost.StartPostgresAsync(database);
        return host;
    }

    public override async ValueTask DisposeAsync()
    {
        if (other is not null) await other.DisposeAsync();
        await base.DisposeAsync();
    }
}
