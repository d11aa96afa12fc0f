using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Payments.V1;
using RecordedEvent = GrpcBank.Contracts.History.V1.RecordedEvent;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A subscriber that resumes: its server is stopped (SIGTERM), killed (kill -9) or fails over to another server on the
/// same PostgreSQL while writers go on appending, and it subscribes again from the last position it received. The ends
/// it sees are UNAVAILABLE (SERVER_STOPPING for a stop), and what it received in all equals the store's whole global
/// order: no gap, no duplicate, each append's events side by side, and nothing it was sent is missing from the store
/// afterwards (no event was streamed before its commit).
/// </summary>
public sealed partial class SubscriptionResumeSpecs(PostgresServer postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Embedded_ASubscriberResumesFromItsLastPosition_AcrossASigtermAndAKill9_NoGapNoDuplicate_AppendsWhole()
    {
        var data = KillUnderLoadSpecs.TempDirectory();
        try
        {
            await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", data));
            var accounts = await OpenAccountsAsync(server.Channel);
            await using var subscriber = Resumer.Start(() => server.IsRunning ? server.Url : null);
            await using var writers = Writers.Start(() => server.IsRunning ? server.Channel : null, accounts);

            await subscriber.ReceivedAtLeastAsync(200);
            Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(30)));
            await server.RestartAsync();
            await subscriber.ResumedAsync(1);

            await subscriber.ReceivedAtLeastAsync(subscriber.Count + 200);
            server.Kill();
            await server.RestartAsync();
            await subscriber.ResumedAsync(2);
            await subscriber.ReceivedAtLeastAsync(subscriber.Count + 200);

            await writers.StopAsync();
            var received = await AssertReceivedEverythingOnceAsync(subscriber, server.Url, stops: 1, kills: 1);
            Assert.Contains(received, e => e.EventType.StartsWith("payments.", StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }

    /// <remarks>
    /// A subscriber catching up, slower than the server writes: its server's write waits for the client's HTTP/2 window
    /// when the stop comes. The stop cancelled that write, and grpc-dotnet resets a stream whose write was cancelled
    /// (RST_STREAM CANCEL): the client saw CANCELLED, which says it gave up itself, and lost the reason to resubscribe.
    /// </remarks>
    [Fact]
    public async Task Embedded_ASlowSubscriberCatchingUp_IsStoppedWithServerStopping_NotCancelled_AndResumesWhereItWas()
    {
        var data = KillUnderLoadSpecs.TempDirectory();
        try
        {
            await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", data));
            var accounts = await OpenAccountsAsync(server.Channel);
            await WriteHistoryAsync(server.Channel, accounts);
            await using var subscriber = Resumer.Start(() => server.IsRunning ? server.Url : null, pace: TimeSpan.FromMilliseconds(2));

            await subscriber.ReceivedAtLeastAsync(300);
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(30)));
            // A reader that goes on reading holds the stop no longer than its window takes to drain, and nothing is an error.
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(2), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s");
            Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
            await server.RestartAsync();
            await subscriber.ResumedAsync(1);

            await AssertReceivedEverythingOnceAsync(subscriber, server.Url, stops: 1, kills: 0);
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }

    /// <remarks>The other side of letting a write in flight finish: a client that reads nothing does not hold the stop for the shutdown timeout (30 s).</remarks>
    [Fact]
    public async Task Embedded_ASubscriberThatStopsReading_HoldsASigtermAFewSecondsAtMost_AndNoErrorIsLogged()
    {
        var data = KillUnderLoadSpecs.TempDirectory();
        try
        {
            await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", data));
            await WriteHistoryAsync(server.Channel, await OpenAccountsAsync(server.Channel));
            using var channel = GrpcChannel.ForAddress(server.Url);
            using var call = new HistoryService.HistoryServiceClient(channel).SubscribeAll(new SubscribeAllRequest(), cancellationToken: Ct);
            Assert.True(await call.ResponseStream.MoveNext(Ct));
            await Task.Delay(500, Ct); // the server fills the window and waits

            var stopping = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(60)));
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(6), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s");
            Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("crit:", server.Log, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task PostgresTwoServers_ASubscriberResumesOnTheOtherServer_AfterAKill9AndASigterm_NoGapNoDuplicate_AppendsWhole()
    {
        await using var cluster = await ServerCluster.StartAsync(await postgres.CreateDatabaseAsync(), 2);
        var accounts = await OpenAccountsAsync(cluster.RoundRobin);
        var on = 0;
        await using var subscriber = Resumer.Start(() => cluster.Servers[Volatile.Read(ref on)].Url);
        // Writes through both servers, round robin: the subscriber's server hears of half of them only by its poll.
        await using var writers = Writers.Start(() => cluster.RoundRobin, accounts);

        await subscriber.ReceivedAtLeastAsync(200);
        Volatile.Write(ref on, 1);
        cluster.Servers[0].Kill();
        await subscriber.ResumedAsync(1);
        await subscriber.ReceivedAtLeastAsync(subscriber.Count + 200);

        await cluster.Servers[0].RestartAsync();
        Volatile.Write(ref on, 0);
        Assert.Equal(0, await cluster.Servers[1].TerminateAsync(TimeSpan.FromSeconds(30)));
        await subscriber.ResumedAsync(2);
        await subscriber.ReceivedAtLeastAsync(subscriber.Count + 200);

        await writers.StopAsync();
        var received = await AssertReceivedEverythingOnceAsync(subscriber, cluster.Servers[0].Url, stops: 1, kills: 1);
        Assert.Contains(received, e => e.EventType.StartsWith("payments.", StringComparison.Ordinal));
        // Each resume went to the other server.
        Assert.Equal([cluster.Servers[0].Url, cluster.Servers[1].Url, cluster.Servers[0].Url], subscriber.ServedBy);
    }

    /// <summary>History enough that the server is always a window ahead of a slow reader: 3,000 deposits of ~1 KB each.</summary>
    private static async Task WriteHistoryAsync(GrpcChannel channel, string[] accounts)
    {
        var batches = new BatchService.BatchServiceClient(channel);
        for (var b = 0; b < 3; b++)
        {
            var batch = new ExecuteBatchRequest { Atomic = true };
            batch.Commands.AddRange(Enumerable.Range(0, 1_000).Select(i => new BatchCommand
            {
                Deposit = new DepositMoneyRequest
                {
                    AccountId = accounts[i % accounts.Length], AmountMinor = 1, CurrencyCode = "EUR", RequestId = $"history-{b}-{i}", Reference = new string('h', 100),
                },
            }));
            await batches.ExecuteBatchAsync(batch, cancellationToken: Ct);
        }
    }

    private static async Task<string[]> OpenAccountsAsync(GrpcChannel channel)
    {
        var client = new AccountService.AccountServiceClient(channel);
        var ids = Enumerable.Range(0, 6).Select(_ => $"resume-{Guid.NewGuid():N}"[..20]).ToArray();
        foreach (var id in ids)
        {
            await client.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Resume {id}", CurrencyCode = "EUR" }, cancellationToken: Ct);
            await client.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1_000_000, CurrencyCode = "EUR" }, cancellationToken: Ct);
        }
        return ids;
    }

    /// <summary>
    /// The subscriber's ends: one per stop and kill, each UNAVAILABLE (a stop's with SERVER_STOPPING), nothing else; and
    /// all it received, across its resumes, is the store's whole order as a fresh subscription from 0 reads it once the
    /// writes have stopped.
    /// </summary>
    private static async Task<List<RecordedEvent>> AssertReceivedEverythingOnceAsync(Resumer subscriber, string url, int stops, int kills)
    {
        using var channel = GrpcChannel.ForAddress(url);
        var all = await ReadEverythingAsync(channel);
        var received = await subscriber.UntilAsync(all[^1].Position);

        Assert.True(subscriber.Ends.All(end => end.Code == StatusCode.Unavailable), $"ends: {string.Join(", ", subscriber.Ends)}");
        Assert.Equal(stops, subscriber.Ends.Count(end => end.Reason == "SERVER_STOPPING"));
        Assert.Equal(stops + kills, subscriber.Resumes);
        // Each event once, in position order, none missing, none the store does not hold.
        Assert.Equal(all.Select(e => (e.Position, e.EventId, e.StreamId, e.StreamVersion)),
            received.Select(e => (e.Position, e.EventId, e.StreamId, e.StreamVersion)));
        AssertEachAppendIsSideBySide(received);
        TestContext.Current.SendDiagnosticMessage(
            $"{received.Count} events over {subscriber.Resumes + 1} subscriptions; ends: {string.Join(", ", subscriber.Ends)}; " +
            $"failed attempts to resubscribe: {subscriber.Refused}");
        return received;
    }

    /// <summary>Every event from position 0 to the head, read by one fresh subscription once nothing is being written.</summary>
    private static async Task<List<RecordedEvent>> ReadEverythingAsync(GrpcChannel channel)
    {
        var head = await ReadSide.HeadAsync(channel);
        using var call = new HistoryService.HistoryServiceClient(channel).SubscribeAll(new SubscribeAllRequest(), deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Ct);
        var all = new List<RecordedEvent>();
        while ((all.Count == 0 || all[^1].Position < head) && await call.ResponseStream.MoveNext(Ct)) all.Add(call.ResponseStream.Current.Event);
        Assert.Equal(head, all[^1].Position);
        return all;
    }

    /// <summary>The events of one command (its request id; a batch's ids share its prefix) come one after another.</summary>
    private static void AssertEachAppendIsSideBySide(IReadOnlyList<RecordedEvent> received)
    {
        var indexed = received.Select((e, index) => (Append: AppendOf(e), Index: index)).Where(e => e.Append is not null);
        foreach (var append in indexed.GroupBy(e => e.Append))
        {
            var (first, last) = (append.First().Index, append.Last().Index);
            Assert.True(last - first + 1 == append.Count(),
                $"append {append.Key}: its events came from position {received[first].Position} to {received[last].Position}, with others between");
        }
    }

    private static string? AppendOf(RecordedEvent e)
    {
        var requestId = JsonDocument.Parse(e.MetadataJson).RootElement.TryGetProperty("requestId", out var id) ? id.GetString() : null;
        return requestId is null ? null : WriterRequest().Match(requestId) is { Success: true } m ? m.Groups[1].Value : null;
    }

    [GeneratedRegex(@"^(r\d+-\d+-[0-9a-f]{8})(-\d+)?$")]
    private static partial Regex WriterRequest();

    /// <summary>
    /// A client that subscribes from 0 and, whenever its call ends, subscribes again from the last position it received, at
    /// the address <c>target</c> names then (null: no server yet); it records each end of a call that had been serving.
    /// </summary>
    private sealed class Resumer : IAsyncDisposable
    {
        private readonly ConcurrentQueue<RecordedEvent> received = new();
        private readonly ConcurrentQueue<(StatusCode Code, string? Reason)> ends = new();
        private readonly ConcurrentQueue<string> servedBy = new();
        private readonly CancellationTokenSource stop = new();
        private Task reading = Task.CompletedTask;
        private int refused;

        public int Count => received.Count;

        public IReadOnlyList<(StatusCode Code, string? Reason)> Ends => [.. ends];

        /// <summary>The address of each subscription that delivered, in order.</summary>
        public IReadOnlyList<string> ServedBy => [.. servedBy];

        public int Resumes => ends.Count;

        /// <summary>Attempts to resubscribe that the server's absence (or start-up) turned away.</summary>
        public int Refused => refused;

        /// <param name="pace">How long it takes over each event: a reader slower than its server.</param>
        public static Resumer Start(Func<string?> target, TimeSpan pace = default)
        {
            var resumer = new Resumer();
            resumer.reading = Task.Run(() => resumer.RunAsync(target, pace));
            return resumer;
        }

        private async Task RunAsync(Func<string?> target, TimeSpan pace)
        {
            while (!stop.IsCancellationRequested)
            {
                if (target() is not { Length: > 0 } url)
                {
                    await Task.Delay(20);
                    continue;
                }
                // A channel per subscription: a killed server's connection is never reused.
                using var channel = GrpcChannel.ForAddress(url);
                var from = received.LastOrDefault()?.Position ?? 0;
                var delivered = false;
                try
                {
                    using var call = new HistoryService.HistoryServiceClient(channel).SubscribeAll(new SubscribeAllRequest { FromPosition = from }, cancellationToken: stop.Token);
                    while (await call.ResponseStream.MoveNext(stop.Token))
                    {
                        if (!delivered) servedBy.Enqueue(url);
                        delivered = true;
                        received.Enqueue(call.ResponseStream.Current.Event);
                        if (pace > TimeSpan.Zero) await Task.Delay(pace, stop.Token);
                    }
                    // OK would say the feed is complete: it never is.
                    ends.Enqueue((StatusCode.OK, null));
                }
                catch (Exception e) when (stop.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
                {
                    return;
                }
                catch (RpcException e)
                {
                    if (delivered) ends.Enqueue((e.StatusCode, e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason ?? $"({e.Status.Detail} {e.Status.DebugException?.Message})"));
                    else if (e.StatusCode == StatusCode.Unavailable) Interlocked.Increment(ref refused);
                    else ends.Enqueue((e.StatusCode, e.Status.Detail)); // a refusal of any other kind is a failure too
                    await Task.Delay(50);
                }
            }
        }

        /// <summary>Waits (at most 20 s) until at least <paramref name="count"/> events have come.</summary>
        public async Task ReceivedAtLeastAsync(int count)
        {
            var until = DateTime.UtcNow.AddSeconds(20);
            while (received.Count < count && DateTime.UtcNow < until) await Task.Delay(20, Ct);
            Assert.True(received.Count >= count, $"received {received.Count} events, expected at least {count}; ends {string.Join(", ", ends)}");
        }

        /// <summary>Waits (at most 30 s) until the <paramref name="resumes"/>th subscription has delivered.</summary>
        public async Task ResumedAsync(int resumes)
        {
            var until = DateTime.UtcNow.AddSeconds(30);
            while (servedBy.Count <= resumes && DateTime.UtcNow < until) await Task.Delay(20, Ct);
            Assert.True(servedBy.Count > resumes, $"{servedBy.Count - 1} resumes delivered, expected {resumes}; ends {string.Join(", ", ends)}");
        }

        /// <summary>Everything received once the event at <paramref name="position"/> has come (within 30 s); then it stops.</summary>
        public async Task<List<RecordedEvent>> UntilAsync(long position)
        {
            var until = DateTime.UtcNow.AddSeconds(30);
            while (!received.Any(e => e.Position >= position) && DateTime.UtcNow < until) await Task.Delay(20, Ct);
            await stop.CancelAsync();
            await reading;
            return [.. received];
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await reading;
            stop.Dispose();
        }
    }

    /// <summary>
    /// Writers of three kinds of command, each with request ids of its own: a deposit, a transfer (one append over both
    /// accounts and the payment), an atomic batch of a deposit and a transfer. A call that fails is dropped (a server
    /// stopping or down: the write is there or not, the subscriber's check is against what the store holds).
    /// </summary>
    private sealed class Writers : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly string run = Guid.NewGuid().ToString("N")[..8];
        private Task writing = Task.CompletedTask;

        public static Writers Start(Func<GrpcChannel?> channel, string[] accounts)
        {
            var writers = new Writers();
            writers.writing = Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() => writers.WriteAsync(w, channel, accounts))));
            return writers;
        }

        private async Task WriteAsync(int w, Func<GrpcChannel?> current, string[] accounts)
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var from = accounts[(w + n) % accounts.Length];
                var to = accounts[(w + n + 1 + n / accounts.Length % (accounts.Length - 1)) % accounts.Length];
                var id = $"r{w}-{n}-{run}";
                try
                {
                    if (current() is not { } channel)
                    {
                        await Task.Delay(20);
                        continue;
                    }
                    var deadline = DateTime.UtcNow.AddSeconds(5);
                    switch (n % 3)
                    {
                        case 0:
                            await new AccountService.AccountServiceClient(channel).DepositMoneyAsync(new DepositMoneyRequest
                            {
                                AccountId = to, AmountMinor = 1 + n % 97, CurrencyCode = "EUR", RequestId = id,
                            }, deadline: deadline);
                            break;
                        case 1:
                            await new PaymentService.PaymentServiceClient(channel).TransferMoneyAsync(Transfer(from, to, id), deadline: deadline);
                            break;
                        default:
                            await new BatchService.BatchServiceClient(channel).ExecuteBatchAsync(new ExecuteBatchRequest
                            {
                                Atomic = true,
                                Commands =
                                {
                                    new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = from, AmountMinor = 5, CurrencyCode = "EUR", RequestId = $"{id}-0" } },
                                    new BatchCommand { Transfer = Transfer(from, to, $"{id}-1") },
                                },
                            }, deadline: deadline);
                            break;
                    }
                }
                catch (Exception e) when (e is RpcException or ObjectDisposedException or InvalidOperationException)
                {
                    await Task.Delay(20); // the server is stopping, down or starting: go on when it is back
                }
            }
        }

        private static TransferMoneyRequest Transfer(string from, string to, string requestId) => new()
        {
            FromAccountId = from, ToAccountId = to, AmountMinor = 1 + requestId.Length % 50, CurrencyCode = "EUR", RequestId = requestId,
        };

        public async Task StopAsync()
        {
            await stop.CancelAsync();
            await writing.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            stop.Dispose();
        }
    }
}
