using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using HdrHistogram;

namespace GrpcBank.Bench;

public enum OpKind { Deposit, Withdraw }

public sealed record Op(OpKind Kind, string AccountId, long Amount, string RequestId);

public enum Outcome { Ok, Rejected, Conflict, Failed }

/// <summary>What the bench knows it did: money moved per account by commands the server acknowledged.</summary>
public sealed class Ledger
{
    public readonly ConcurrentDictionary<string, long> Expected = new(StringComparer.Ordinal);
    public readonly ConcurrentBag<Op> Unknown = [];
    private long maxPosition;
    public long Deposited, Withdrawn;

    public long MaxPosition => Interlocked.Read(ref maxPosition);

    public void Opened(string accountId, long position)
    {
        Expected.TryAdd(accountId, 0);
        SeePosition(position);
    }

    public void Applied(Op op, long position)
    {
        var delta = op.Kind == OpKind.Deposit ? op.Amount : -op.Amount;
        Expected.AddOrUpdate(op.AccountId, delta, (_, v) => v + delta);
        if (op.Kind == OpKind.Deposit) Interlocked.Add(ref Deposited, op.Amount);
        else Interlocked.Add(ref Withdrawn, op.Amount);
        SeePosition(position);
    }

    public void SeePosition(long position)
    {
        long seen;
        while (position > (seen = Interlocked.Read(ref maxPosition)) && Interlocked.CompareExchange(ref maxPosition, position, seen) != seen) { }
    }
}

/// <summary>Latency in microseconds (HdrHistogram, 3 significant digits) plus the outcome counts of one phase.</summary>
public sealed class PhaseResult(string name)
{
    public string Name { get; } = name;
    public LongHistogram Latency { get; } = new(600_000_000L, 3);
    public long Ok, Rejected, Conflicts, Failed, Dropped;
    public TimeSpan Elapsed;
    public double TargetRate;

    /// <summary>The server's group commits during the phase, where it was measured (<see cref="Load.CountingCommitsAsync"/>).</summary>
    public GroupCommits? Commits;

    public double PerSecond => (Ok + Rejected) / Elapsed.TotalSeconds;

    /// <summary>Appends per group commit during the phase, for a table cell ("–" where not measured).</summary>
    public string PerCommit => Commits is { Commits: > 0 } c ? (c.Appends / (double)c.Commits).ToString("N1", System.Globalization.CultureInfo.InvariantCulture) : "–";

    public double P(double percentile) => Latency.TotalCount == 0 ? double.NaN : Latency.GetValueAtPercentile(percentile) / 1000.0;

    public void Merge(LongHistogram h) { lock (Latency) Latency.Add(h); }

    public void Count(Outcome o)
    {
        switch (o)
        {
            case Outcome.Ok: Interlocked.Increment(ref Ok); break;
            case Outcome.Rejected: Interlocked.Increment(ref Rejected); break;
            case Outcome.Conflict: Interlocked.Increment(ref Conflicts); break;
            default: Interlocked.Increment(ref Failed); break;
        }
    }

    public override string ToString() =>
        $"{Name}: {PerSecond,8:N0}/s  p50 {P(50):N2} ms  p99 {P(99):N2} ms  p99.9 {P(99.9):N2} ms  ok {Ok} rejected {Rejected} conflicts {Conflicts} failed {Failed} dropped {Dropped}" +
        (Commits is null ? "" : $"  appends per commit {PerCommit}");
}

/// <summary>Picks accounts uniformly or by a Zipf law (rank 1 hottest) and builds deposit/withdraw operations.</summary>
public sealed class Workload
{
    private readonly IReadOnlyList<string> accounts;
    private readonly double[]? zipfCdf;
    public string Name { get; }

    public Workload(string name, IReadOnlyList<string> accounts, double? zipfExponent)
    {
        (Name, this.accounts) = (name, accounts);
        if (zipfExponent is { } s)
        {
            zipfCdf = new double[accounts.Count];
            double sum = 0;
            for (var i = 0; i < accounts.Count; i++) zipfCdf[i] = sum += 1 / Math.Pow(i + 1, s);
            for (var i = 0; i < accounts.Count; i++) zipfCdf[i] /= sum;
        }
    }

    /// <summary>Share of operations that hit the hottest account.</summary>
    public double HottestShare => zipfCdf?[0] ?? 1.0 / accounts.Count;

    public Op Next(Random rng)
    {
        int index;
        if (zipfCdf is null) index = rng.Next(accounts.Count);
        else
        {
            index = Array.BinarySearch(zipfCdf, rng.NextDouble());
            if (index < 0) index = Math.Min(~index, accounts.Count - 1);
        }
        // 80 % deposits, 20 % withdrawals (some rejected for insufficient funds: a valid, cheap reply that writes nothing).
        var kind = rng.Next(5) == 0 ? OpKind.Withdraw : OpKind.Deposit;
        return new Op(kind, accounts[index], rng.Next(1, 10_000), RequestIds.Next());
    }
}

public static class Load
{
    /// <summary>The commands of workload <paramref name="w"/>, sent through <paramref name="client"/> and recorded in <paramref name="ledger"/>.</summary>
    public static Func<Random, Func<Task<Outcome>>> Commands(Workload w, AccountService.AccountServiceClient client, Ledger ledger) => rng =>
    {
        var op = w.Next(rng);
        return () => ExecuteAsync(client, op, ledger);
    };

    public static async Task<Outcome> ExecuteAsync(AccountService.AccountServiceClient client, Op op, Ledger ledger)
    {
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            long position;
            if (op.Kind == OpKind.Deposit)
                position = (await client.DepositMoneyAsync(new DepositMoneyRequest
                {
                    AccountId = op.AccountId, AmountMinor = op.Amount, CurrencyCode = "EUR", Reference = "bench", RequestId = op.RequestId,
                }, deadline: deadline)).Position;
            else
                position = (await client.WithdrawMoneyAsync(new WithdrawMoneyRequest
                {
                    AccountId = op.AccountId, AmountMinor = op.Amount, CurrencyCode = "EUR", Reference = "bench", RequestId = op.RequestId,
                }, deadline: deadline)).Position;
            ledger.Applied(op, position);
            return Outcome.Ok;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition) { return Outcome.Rejected; }
        catch (RpcException e) when (e.StatusCode == StatusCode.Aborted) { return Outcome.Conflict; }
        catch (RpcException)
        {
            // The outcome is unknown: resolved after the run by re-sending with the same request id.
            ledger.Unknown.Add(op);
            return Outcome.Failed;
        }
    }

    /// <summary>
    /// Warm-up, once the disk has settled (<see cref="Disk"/>): closed-loop load in one-second slices until the server's
    /// background compiler has done nothing through a slice (its tier-1 recompilation of the paths the load takes is over),
    /// for at least 2 s and at most 30 s. A phase measured while the runtime still compiles pays for it on the shared
    /// cores: after a fixed 2-second warm-up, perf showed the compiler thread with 20-40 % of the server's samples through
    /// the first 4-5 s of the next phase.
    /// </summary>
    public static Task WarmUpAsync(ServerProcess server, int callers, Func<Random, Func<Task<Outcome>>> next) =>
        WarmUpAsync([server], callers, next);

    /// <summary>The same, until the compilers of all of <paramref name="servers"/> (the load spread over them) are quiet.</summary>
    public static async Task WarmUpAsync(IReadOnlyList<ServerProcess> servers, int callers, Func<Random, Func<Task<Outcome>>> next)
    {
        await Disk.SettleAsync();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var jit = servers.Select(s => s.JitCpuTime).ToList();
            await ClosedAsync("warm-up", callers, TimeSpan.FromSeconds(1), next);
            var quiet = servers.Select(s => s.JitCpuTime).SequenceEqual(jit);
            if (quiet && sw.Elapsed >= TimeSpan.FromSeconds(2)) break;
            if (sw.Elapsed >= TimeSpan.FromSeconds(30))
            {
                Console.WriteLine("  warm-up: the server's compiler was still busy after 30 s");
                return;
            }
        }
        Console.WriteLine($"  warm-up: {sw.Elapsed.TotalSeconds:N0} s (until the server's compiler was quiet for a second)");
    }

    /// <summary>Runs a phase and keeps the group commits <paramref name="server"/> wrote during it in <see cref="PhaseResult.Commits"/>.</summary>
    public static async Task<PhaseResult> CountingCommitsAsync(ServerProcess server, Func<Task<PhaseResult>> phase)
    {
        var before = await server.GroupCommitsAsync();
        var result = await phase();
        result.Commits = await server.GroupCommitsAsync() - before;
        return result;
    }

    /// <summary>Closed loop: <paramref name="callers"/> callers, each sends its next command when the last one is answered.</summary>
    public static async Task<PhaseResult> ClosedAsync(
        string name, int callers, TimeSpan duration, Func<Random, Func<Task<Outcome>>> next, CancellationToken stopEarly = default)
    {
        var result = new PhaseResult(name);
        var stop = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(i => Task.Run(async () =>
        {
            var rng = new Random(HashCode.Combine(name, i));
            var h = new LongHistogram(600_000_000L, 3);
            while (Stopwatch.GetTimestamp() < stop && !stopEarly.IsCancellationRequested)
            {
                var call = next(rng);
                var t0 = Stopwatch.GetTimestamp();
                var o = await call();
                var us = (Stopwatch.GetTimestamp() - t0) * 1_000_000 / Stopwatch.Frequency;
                result.Count(o);
                if (o is Outcome.Ok or Outcome.Rejected) h.RecordValue(Math.Max(1, us));
            }
            result.Merge(h);
        })));
        result.Elapsed = sw.Elapsed;
        return result;
    }

    /// <summary>
    /// Open loop at a fixed arrival rate. Latency runs from each command's intended send time, so a stall delays
    /// the clock of every command behind it (no coordinated omission). Beyond <paramref name="maxInFlight"/>
    /// outstanding calls a command is dropped (counted, not sent).
    /// </summary>
    public static async Task<PhaseResult> OpenAsync(string name, double rate, TimeSpan duration, Func<Random, Func<Task<Outcome>>> next, int maxInFlight = 2_000)
    {
        var result = new PhaseResult(name) { TargetRate = rate };
        var rng = new Random(HashCode.Combine(name));
        var total = (long)(rate * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp();
        var inFlight = 0;
        var pending = new List<Task>();
        var sw = Stopwatch.StartNew();
        for (long i = 0; i < total; i++)
        {
            var intended = start + (long)(i * interval);
            var now = Stopwatch.GetTimestamp();
            if (intended > now)
            {
                var waitMs = (intended - now) * 1000.0 / Stopwatch.Frequency;
                if (waitMs >= 1) await Task.Delay(TimeSpan.FromMilliseconds(waitMs));
            }
            if (Volatile.Read(ref inFlight) >= maxInFlight) { Interlocked.Increment(ref result.Dropped); continue; }
            Interlocked.Increment(ref inFlight);
            var call = next(rng);
            pending.Add(Task.Run(async () =>
            {
                var o = await call();
                var us = (Stopwatch.GetTimestamp() - intended) * 1_000_000 / Stopwatch.Frequency;
                Interlocked.Decrement(ref inFlight);
                result.Count(o);
                if (o is Outcome.Ok or Outcome.Rejected) lock (result.Latency) result.Latency.RecordValue(Math.Max(1, us));
            }));
        }
        await Task.WhenAll(pending);
        result.Elapsed = sw.Elapsed;
        return result;
    }
}
