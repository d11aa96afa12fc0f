using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using HdrHistogram;

namespace GrpcBank.Bench;

/// <summary>The bench's gRPC conversations with one server.</summary>
public sealed class Bank(GrpcChannel channel, Ledger ledger)
{
    public AccountService.AccountServiceClient Accounts { get; } = new(channel);
    public QueryService.QueryServiceClient Query { get; } = new(channel);
    public HistoryService.HistoryServiceClient History { get; } = new(channel);
    public Health.HealthClient Health { get; } = new(channel);
    public Ledger Ledger => ledger;
    public GrpcChannel Channel => channel;

    public async Task OpenAsync(IEnumerable<string> ids, int parallelism = 32)
    {
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (id, _) =>
        {
            var r = await Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Bench {id}", CurrencyCode = "EUR", RequestId = $"open-{id}" });
            ledger.Opened(id, r.Position);
        });
    }

    public async Task<DepositMoneyResponse> DepositAsync(string id, long amount)
    {
        var r = await Accounts.DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = id, AmountMinor = amount, CurrencyCode = "EUR", Reference = "bench", RequestId = RequestIds.Next(),
        }, deadline: DateTime.UtcNow.AddSeconds(60));
        ledger.Applied(new Op(OpKind.Deposit, id, amount, ""), r.Position);
        return r;
    }

    /// <summary>Waits (by min_position, bounded by the deadline) until the read side has applied <paramref name="position"/>.</summary>
    /// <remarks>The server caps one call's wait and answers UNAVAILABLE (READ_SIDE_BEHIND) after it; such a call is repeated.</remarks>
    public async Task<GetAccountResponse> WaitForReadSideAsync(string id, long position, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return await Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = position }, deadline: until);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < until) { }
        }
    }

    /// <summary>
    /// Command-to-queryable freshness, two ways: (a) a deposit, then GetAccount with min_position = its position;
    /// (b) a deposit, then GetAccount with min_position 0 polled until the new version shows (the true freshness).
    /// Samples are spaced out, so on an otherwise idle server this is freshness on a quiet system.
    /// </summary>
    /// <param name="until">When given, sampling also stops once it completes (the load the samples are taken under).</param>
    public async Task<(LongHistogram MinPosition, LongHistogram Polling)> FreshnessAsync(IReadOnlyList<string> ids, int samples, Task? until = null)
    {
        var a = new LongHistogram(60_000_000L, 3);
        var b = new LongHistogram(60_000_000L, 3);
        var rng = new Random(7);
        for (var i = 0; i < samples && until is not { IsCompleted: true }; i++)
        {
            var first = ids[rng.Next(ids.Count)];
            var r = await DepositAsync(first, 1);
            var t0 = Stopwatch.GetTimestamp();
            await WaitForReadSideAsync(first, r.Position, TimeSpan.FromSeconds(30));
            a.RecordValue(Math.Max(1, Micros(t0)));

            var id = ids[rng.Next(ids.Count)];
            r = await DepositAsync(id, 1);
            t0 = Stopwatch.GetTimestamp();
            while (true)
            {
                var view = await Query.GetAccountAsync(new GetAccountRequest { AccountId = id }, deadline: DateTime.UtcNow.AddSeconds(10));
                if (view.Account.Version >= r.Version) break;
                if (Micros(t0) > 30_000_000) throw new TimeoutException($"account {id} never showed version {r.Version}");
            }
            b.RecordValue(Math.Max(1, Micros(t0)));
            await Task.Delay(5);
        }
        return (a, b);
    }

    /// <summary>Empty unary RPCs at <paramref name="callers"/> concurrent callers: the health check, and a command refused by validation.</summary>
    public async Task<PhaseResult> EmptyRpcAsync(string kind, int callers, TimeSpan duration) =>
        await Load.ClosedAsync($"{kind} x{callers}", callers, duration, kind == "health"
            ? _ => async () =>
            {
                await Health.CheckAsync(new HealthCheckRequest());
                return Outcome.Ok;
            }
            : Invalid(Accounts));

    /// <summary>The emptiest call through the command path's interceptors: a deposit refused by validation before any I/O.</summary>
    public static Func<Random, Func<Task<Outcome>>> Invalid(AccountService.AccountServiceClient accounts) => _ => async () =>
    {
        try
        {
            await accounts.DepositMoneyAsync(new DepositMoneyRequest());
            return Outcome.Failed;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            return Outcome.Ok;
        }
    };

    /// <summary>Deposit latencies (sequential) on one account: the first one, then <paramref name="warm"/> more.</summary>
    public async Task<(double FirstMs, LongHistogram Warm)> DepositSeriesAsync(string id, int warm)
    {
        var t0 = Stopwatch.GetTimestamp();
        await DepositAsync(id, 1);
        var first = Micros(t0) / 1000.0;
        var h = new LongHistogram(60_000_000L, 3);
        for (var i = 0; i < warm; i++)
        {
            t0 = Stopwatch.GetTimestamp();
            await DepositAsync(id, 1);
            h.RecordValue(Math.Max(1, Micros(t0)));
        }
        return (first, h);
    }

    /// <summary>Re-sends every command whose outcome was unknown, with its request id: the stored reply or a fresh decision settles it.</summary>
    public async Task<(int Applied, int Rejected)> ResolveUnknownAsync()
    {
        int applied = 0, rejected = 0;
        var ops = ledger.Unknown.ToArray();
        ledger.Unknown.Clear();
        foreach (var op in ops)
        {
            var o = await Load.ExecuteAsync(Accounts, op, ledger);
            if (o == Outcome.Ok) applied++;
            else if (o is Outcome.Rejected or Outcome.Conflict) rejected++;
            else throw new InvalidOperationException($"command {op.RequestId} still has no outcome");
        }
        return (applied, rejected);
    }

    /// <summary>
    /// Money conserved (write-side fold = what the bench saw acknowledged, per account and in total); no version
    /// gaps (ReadStream 1..n contiguous and n = the fold's version); read side = replay (GetAccount = GetAccountAsOf).
    /// </summary>
    public async Task<InvariantReport> CheckInvariantsAsync()
    {
        var maxPosition = ledger.MaxPosition;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        long writeSum = 0, readSum = 0, events = 0;
        var asOfTime = Timestamp.FromDateTime(DateTime.UtcNow.AddMinutes(10));
        await Parallel.ForEachAsync(ledger.Expected, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (kv, _) =>
        {
            var (id, expected) = (kv.Key, kv.Value);
            var asOf = await History.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfTime = asOfTime });
            var read = (await WaitForReadSideAsync(id, maxPosition, TimeSpan.FromSeconds(300))).Account;
            Interlocked.Add(ref writeSum, asOf.BalanceMinor);
            Interlocked.Add(ref readSum, read.BalanceMinor);
            if (asOf.BalanceMinor != expected) failures.Add($"{id}: write side balance {asOf.BalanceMinor}, acknowledged commands give {expected}");
            if (read.BalanceMinor != asOf.BalanceMinor || read.Version != asOf.Version)
                failures.Add($"{id}: read side (balance {read.BalanceMinor}, version {read.Version}) differs from replay (balance {asOf.BalanceMinor}, version {asOf.Version})");
            long expectedVersion = 1, from = 1;
            while (true)
            {
                var page = await History.ReadStreamAsync(new ReadStreamRequest { StreamId = GrpcBank.Domain.Accounts.Account.StreamId(id), FromVersion = from, MaxCount = 1000 });
                foreach (var e in page.Events)
                {
                    if (e.StreamVersion != expectedVersion) { failures.Add($"{id}: version {e.StreamVersion} where {expectedVersion} was due"); break; }
                    expectedVersion++;
                }
                Interlocked.Add(ref events, page.Events.Count);
                if (page.NextVersion == 0) break;
                from = page.NextVersion;
            }
            if (expectedVersion - 1 != asOf.Version) failures.Add($"{id}: stream holds {expectedVersion - 1} events, fold says version {asOf.Version}");
        });
        var ledgerSum = ledger.Expected.Values.Sum();
        if (writeSum != ledgerSum) failures.Add($"sum of write-side balances {writeSum} != acknowledged deposits - withdrawals {ledgerSum}");
        if (readSum != writeSum) failures.Add($"sum of read-side balances {readSum} != write side {writeSum}");
        return new InvariantReport(ledger.Expected.Count, events, ledgerSum, writeSum, readSum, [.. failures]);
    }

    private static long Micros(long t0) => (Stopwatch.GetTimestamp() - t0) * 1_000_000 / Stopwatch.Frequency;
}

public sealed record InvariantReport(int Accounts, long Events, long LedgerSum, long WriteSum, long ReadSum, IReadOnlyList<string> Failures)
{
    public bool Ok => Failures.Count == 0;
}
