using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Bench;

/// <summary>
/// Transfers next to deposits on one server: throughput at saturation and p50 at one caller of each, over the same
/// accounts; then the snapshot property — while callers transfer at random within a closed set of accounts, readers
/// list the set with SearchAccounts, and every listing must sum to the set's constant total.
/// </summary>
/// <param name="Pairs">
/// Deposits and transfers at the most callers in turn, a few rounds, so that each ratio's parts share the machine's
/// moment: a single pair of phases moved by a quarter between runs on this shared machine.
/// </param>
public sealed record TransferResult(
    string Mode, IReadOnlyList<PhaseResult> Deposits, IReadOnlyList<PhaseResult> Transfers, SnapshotResult Snapshots, IReadOnlyList<PhaseResult> Batches,
    IReadOnlyList<(PhaseResult Deposits, PhaseResult Transfers)> Pairs)
{
    /// <summary>Deposits per ExecuteBatch call in the batch phases (each writes one event per deposit).</summary>
    public const int BatchSize = 1_000;

    public PhaseResult BatchesBest => Batches.MaxBy(p => p.PerSecond)!;
    public double BatchEventsPerSecond => BatchesBest.PerSecond * BatchSize;

    public PhaseResult DepositsOne => Deposits.First(p => p.Name.EndsWith("x1", StringComparison.Ordinal));
    public PhaseResult TransfersOne => Transfers.First(p => p.Name.EndsWith("x1", StringComparison.Ordinal));
    public PhaseResult DepositsBest => Deposits.MaxBy(p => p.PerSecond)!;
    public PhaseResult TransfersBest => Transfers.MaxBy(p => p.PerSecond)!;
    public double BestPhasesRatio => TransfersBest.PerSecond / DepositsBest.PerSecond;
    private IEnumerable<double> PairRatios => Pairs.Select(p => p.Transfers.PerSecond / p.Deposits.PerSecond);

    /// <summary>The median of the paired rounds' ratios.</summary>
    public double ThroughputRatio => PairRatios.Order().ElementAt(Pairs.Count / 2);
    public double LatencyRatio => TransfersOne.P(50) / DepositsOne.P(50);

    public IEnumerable<string> Failures =>
        Snapshots.OutOfBalance > 0 || Snapshots.Incomplete > 0 || Snapshots.Taken == 0
            ? [$"{Mode}: {Snapshots.OutOfBalance} of {Snapshots.Taken} snapshots out of balance, {Snapshots.Incomplete} incomplete"]
            : [];

    private static string F(double v, int decimals = 0) => double.IsNaN(v) ? "–" : v.ToString("N" + decimals, CultureInfo.InvariantCulture);

    public void WriteRows(Action<string> line)
    {
        var measured = $"**{F(ThroughputRatio, 2)}**, the median of {Pairs.Count} paired rounds (deposits and transfers closed, one after the other, at the most callers): " +
            $"{string.Join(", ", Pairs.Select(p => $"{F(p.Transfers.PerSecond)} ÷ {F(p.Deposits.PerSecond)} = {F(p.Transfers.PerSecond / p.Deposits.PerSecond, 2)}"))} " +
            $"(the best phases below: {F(TransfersBest.PerSecond)} ÷ {F(DepositsBest.PerSecond)} = {F(BestPhasesRatio, 2)})";
        line($"| transfers/s ÷ deposits/s at saturation, {Mode} | {measured} | ≥ 0.7 | {(ThroughputRatio >= 0.7 ? "**met**" : "**missed**")} |");
        line($"| transfer p50 ÷ deposit p50 at 1 caller, {Mode} | {F(TransfersOne.P(50), 2)} ÷ {F(DepositsOne.P(50), 2)} ms = **{F(LatencyRatio, 2)}** | ≤ 1.5 | {(LatencyRatio <= 1.5 ? "**met**" : "**missed**")} |");
        line($"| batch RPC events/s, {Mode} (ExecuteBatch of {BatchSize:N0} deposits) | **{F(BatchEventsPerSecond)}** ({BatchesBest.Name}; deposits alone: {F(DepositsBest.PerSecond)}/s) | (see pgbench) | |");
        line($"| SearchAccounts snapshots out of balance while transfers run, {Mode} | **{Snapshots.OutOfBalance}** of {Snapshots.Taken:N0} over {F(Snapshots.Seconds, 1)} s ({Snapshots.Transfers:N0} transfers) | 0 | {(Snapshots.OutOfBalance == 0 && Snapshots.Taken > 0 ? "**met**" : "**missed**")} |");
    }

    public void WriteSection(StringBuilder o)
    {
        o.Append($"### Transfers and deposits, {Mode}\n\n");
        o.Append($"{Accounts} accounts funded with 1,000.00 each; a transfer moves 0.01–1.00 between two of them at random, a deposit adds to one. ");
        o.Append("A transfer is one decision and one append over the payment and both accounts (README, \"Payments\").\n\n");
        o.Append("| phase | per second | p50 ms | p99 ms | appends per commit | ok | rejected | conflicts | failed |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var r in Deposits.Concat(Transfers).Concat(Pairs.SelectMany(p => new[] { p.Deposits, p.Transfers })))
            o.Append($"| {r.Name} | {F(r.PerSecond)} | {F(r.P(50), 2)} | {F(r.P(99), 2)} | {r.PerCommit} | {r.Ok} | {r.Rejected} | {r.Conflicts} | {r.Failed} |\n");
        foreach (var r in Batches)
            o.Append($"| {r.Name} (events/s: {F(r.PerSecond * BatchSize)}) | {F(r.PerSecond)} batches | {F(r.P(50), 2)} | {F(r.P(99), 2)} | {r.PerCommit} | {r.Ok} | {r.Rejected} | {r.Conflicts} | {r.Failed} |\n");
        o.Append($"\nSnapshot property: {SnapshotCallers} callers transferring within {SnapshotAccounts} accounts for {F(Snapshots.Seconds, 1)} s " +
                 $"({Snapshots.Transfers:N0} transfers), 2 readers listing them with SearchAccounts: {Snapshots.Taken:N0} snapshots, " +
                 $"**{Snapshots.OutOfBalance} out of balance**, {Snapshots.Incomplete} incomplete.\n\n");
    }

    /// <summary>The bench author's reading of perf profiles of the server in PostgreSQL mode (not figures of the run it is printed with).</summary>
    public const string WhereATransferCosts =
        "Where a transfer's extra cost goes (`cost --pg --callers 64 --kinds deposits,transfers --trace DIR`, perf samples of the " +
        "server; the bench author's reading, not this run's figures): a transfer writes four events over three streams (the payment " +
        "initiated and completed, the payer's debit, the payee's credit) where a deposit writes one. Per command at 64 callers the " +
        "server spent ~267 µs against ~118 µs, PostgreSQL ~288 µs against ~120 µs. The server's difference is spread: the kernel " +
        "(56 against 24 µs), SQLite's own code applying the read side (35 against 12 µs: a payment row with its five index entries, two " +
        "account rows and two statement lines, against one account row and one line), the events' JSON written and read back (16 " +
        "against 3 µs), the transfer handler (15 against 5 µs) and the PostgreSQL store's own code (the append's parameter " +
        "arrays, the relay's reads: 21 against 10 µs). No single step dominates: the cost follows the number of events and rows. " +
        "The read side's share, embedded (`cost --embedded --callers 64 --kinds deposits,transfers`, then again with " +
        "`--env Relay__Enabled=false`): the server's CPU per transfer fell from ~350 to ~208 µs without the relay, per deposit from " +
        "~180 to ~125 µs, so the read side is ~40 % of a transfer's server CPU against ~30 % of a deposit's; and the write path " +
        "alone ran transfers at 0.61 of deposits (5,195 ÷ 8,534/s). How far a transfer stored without its payment stream would " +
        "get (a throwaway build that wrote only the payer's and the payee's events and took the payment's state for the reply " +
        "from memory; not kept, since a payment's stream and its version in TransferMoney's reply are public, PROTOCOL.md): in " +
        "three interleaved rounds of `cost --callers 64 --kinds deposits,transfers`, the same binary with and without it, transfers " +
        $"÷ deposits rose from 0.46–0.48 to {TwoEventTrialPostgres} on PostgreSQL and from 0.55–0.56 to {TwoEventTrialEmbedded} embedded, although that build " +
        "also skipped the read side's payment row, which a real shape would keep. So even two events per transfer leave the ratio " +
        "near 0.6–0.7: the rest of the gap is the second account (its event, its guard, its read-side row and statement line), " +
        "which a transfer cannot do without. Nor is it contention on the bench's 200 accounts (two transfers in a group that " +
        "share an account commit in turn): over 3,000 accounts two interleaved rounds of `cost --pg --callers 64` gave 0.47 and " +
        "0.57 against 0.49 and 0.53 over 200. " +
        "Allocation, sampled with the runtime's allocation events (`dotnet-trace`, 10 s of transfers at 64 callers): 47 KB per " +
        "transfer against 18–20 KB per deposit, a quarter of it strings (the events' JSON written and read back, the append's " +
        "parameters), and the runtime's native code, mostly the collector, took ~20 % of the server's samples for transfers against " +
        "~15 % for deposits. The payment process decoded all four events of an atomic transfer to find that they call for no " +
        "step (their types are among those it drives when the saga settles a payment): ~2.5 % of the server's samples, and 7 of the 47 KB. It now " +
        "tells them by their payload's settlement without decoding them: a transfer allocates ~40 KB (the same " +
        "sampling; transfers/s moved within this machine's noise).\n\n";

    /// <summary>Transfers ÷ deposits of the two-event trial build (the Reading above), by store.</summary>
    public const string TwoEventTrialPostgres = "0.64–0.73", TwoEventTrialEmbedded = "0.55–0.62";

    public const int Accounts = 200;
    public const int SnapshotAccounts = 10;
    public const int SnapshotCallers = 8;
}

/// <summary>
/// Deposits and transfers at saturation and atomic batches, as in <see cref="TransferLoad.RunAsync"/>, on a server whose
/// relay is off: what the write path alone does, without the outbox reads and read-store writes that share the cores.
/// </summary>
public sealed record WritePathResult(PhaseResult Deposits, PhaseResult Transfers, PhaseResult AtomicBatches)
{
    public double TransfersPerDeposit => Transfers.PerSecond / Deposits.PerSecond;
    public double BatchEventsPerSecond => AtomicBatches.PerSecond * TransferResult.BatchSize;
}

/// <summary>Snapshots of a closed set of accounts read while money moves inside it.</summary>
public sealed record SnapshotResult(long Taken, long OutOfBalance, long Incomplete, long Transfers, double Seconds);

public static class TransferLoad
{
    /// <summary>Rounds of deposits and transfers in turn for the throughput ratio (<see cref="TransferResult.Pairs"/>).</summary>
    private const int PairedRounds = 3;

    private const long Funding = 100_000;

    public static async Task<TransferResult> RunAsync(string mode, ServerProcess server, IReadOnlyList<int> callers, TimeSpan phase, TimeSpan snapshotPhase)
    {
        var channel = server.Channel;
        var (accounts, payments, run, ids) = await WarmFundedAsync(server, 't');
        var deposits = new List<PhaseResult>();
        var transfers = new List<PhaseResult>();
        foreach (var c in callers)
        {
            deposits.Add(await Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{mode} deposits closed x{c}", c, phase, Deposit(accounts, ids))));
            Console.WriteLine("  " + deposits[^1]);
            transfers.Add(await Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{mode} transfers closed x{c}", c, phase, Transfer(payments, ids))));
            Console.WriteLine("  " + transfers[^1]);
        }

        // Paired rounds at the most callers, each round's order the other way round from the last's.
        var pairs = new List<(PhaseResult, PhaseResult)>();
        var most = callers.Max();
        for (var round = 1; round <= PairedRounds; round++)
        {
            Task<PhaseResult> Deposits() => Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{mode} deposits closed x{most} (pair {round})", most, phase / 2, Deposit(accounts, ids)));
            Task<PhaseResult> Transfers() => Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{mode} transfers closed x{most} (pair {round})", most, phase / 2, Transfer(payments, ids)));
            PhaseResult d, t;
            if (round % 2 == 1) (d, t) = (await Deposits(), await Transfers());
            else (t, d) = (await Transfers(), await Deposits());
            pairs.Add((d, t));
            Console.WriteLine($"  pair {round}: {t.PerSecond:N0} ÷ {d.PerSecond:N0} = {t.PerSecond / d.PerSecond:N2}");
        }

        // Batches of deposits over the same accounts: independent (an append per command, written as one group) and atomic (one append).
        var batches = new List<PhaseResult>();
        var batch = new BatchService.BatchServiceClient(channel);
        foreach (var (atomic, c) in new[] { (false, 1), (false, 4), (true, 1), (true, 4) })
        {
            batches.Add(await Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{mode} {(atomic ? "atomic" : "independent")} batches closed x{c}", c, phase, Batch(batch, ids, atomic))));
            Console.WriteLine($"  {batches[^1]} = {batches[^1].PerSecond * TransferResult.BatchSize:N0} events/s");
        }

        // The closed set: owners named by one word no other account has, so one search lists exactly them.
        var word = $"Probe{run}";
        var set = await OpenFundedAsync(accounts, Enumerable.Range(1, TransferResult.SnapshotAccounts).Select(i => $"s{run}-{i:D2}").ToList(), word);
        var snapshots = await SnapshotsAsync(channel, payments, set, word, snapshotPhase);
        Console.WriteLine($"  snapshots: {snapshots}");
        return new TransferResult(mode, deposits, transfers, snapshots, batches, pairs);
    }

    /// <summary>See <see cref="WritePathResult"/>: on fresh funded accounts, the server started with its relay off.</summary>
    public static async Task<WritePathResult> WritePathAsync(ServerProcess server, TimeSpan phase)
    {
        var (accounts, payments, _, ids) = await WarmFundedAsync(server, 'w');
        async Task<PhaseResult> Phase(string name, int callers, Func<Random, Func<Task<Outcome>>> next)
        {
            var result = await Load.CountingCommitsAsync(server, () => Load.ClosedAsync($"{name} closed x{callers}, relay off", callers, phase, next));
            Console.WriteLine("  " + result);
            return result;
        }
        return new WritePathResult(
            await Phase("deposits", 64, Deposit(accounts, ids)),
            await Phase("transfers", 64, Transfer(payments, ids)),
            await Phase("atomic batches", 4, Batch(new BatchService.BatchServiceClient(server.Channel), ids, atomic: true)));
    }

    /// <summary>
    /// Opens <see cref="TransferResult.Accounts"/> funded accounts named after a fresh run id (after <paramref name="prefix"/>,
    /// owned by "<paramref name="owner"/> run"), then warms the server up with deposits and transfers over them.
    /// </summary>
    internal static async Task<(AccountService.AccountServiceClient Accounts, PaymentService.PaymentServiceClient Payments, string Run, IReadOnlyList<string> Ids)>
        WarmFundedAsync(ServerProcess server, char prefix, string owner = "Bench", int count = TransferResult.Accounts)
    {
        var accounts = new AccountService.AccountServiceClient(server.Channel);
        var payments = new PaymentService.PaymentServiceClient(server.Channel);
        var run = Guid.NewGuid().ToString("N")[..8];
        var ids = await OpenFundedAsync(accounts, Enumerable.Range(1, count).Select(i => $"{prefix}{run}-{i:D4}").ToList(), $"{owner} {run}");
        await Load.WarmUpAsync(server, 16, Deposit(accounts, ids));
        await Load.WarmUpAsync(server, 16, Transfer(payments, ids));
        return (accounts, payments, run, ids);
    }

    internal static async Task<IReadOnlyList<string>> OpenFundedAsync(AccountService.AccountServiceClient accounts, IReadOnlyList<string> ids, string owner)
    {
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, _) =>
        {
            await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"{owner} {id}", CurrencyCode = "EUR" });
            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = Funding, CurrencyCode = "EUR", Reference = "funding" });
        });
        return ids;
    }

    internal static Func<Random, Func<Task<Outcome>>> Deposit(AccountService.AccountServiceClient accounts, IReadOnlyList<string> ids) => rng =>
    {
        var (id, amount) = (ids[rng.Next(ids.Count)], rng.Next(1, 100));
        return () => CallAsync(accounts.DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = id, AmountMinor = amount, CurrencyCode = "EUR", Reference = "bench", RequestId = RequestIds.Next(),
        }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
    };

    internal static Func<Random, Func<Task<Outcome>>> Batch(BatchService.BatchServiceClient batches, IReadOnlyList<string> ids, bool atomic) => rng =>
    {
        var request = new ExecuteBatchRequest { Atomic = atomic };
        for (var i = 0; i < TransferResult.BatchSize; i++)
            request.Commands.Add(new BatchCommand
            {
                Deposit = new DepositMoneyRequest
                {
                    AccountId = ids[rng.Next(ids.Count)], AmountMinor = rng.Next(1, 100), CurrencyCode = "EUR", Reference = "bench",
                    RequestId = RequestIds.Next(),
                },
            });
        return async () =>
        {
            var reply = await batches.ExecuteBatchAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));
            return reply.Results.All(r => r.ResultCase != BatchResult.ResultOneofCase.Error) ? Outcome.Ok : Outcome.Failed;
        };
    };

    internal static Func<Random, Func<Task<Outcome>>> Transfer(PaymentService.PaymentServiceClient payments, IReadOnlyList<string> ids) => rng =>
    {
        var from = rng.Next(ids.Count);
        var to = (from + 1 + rng.Next(ids.Count - 1)) % ids.Count;
        var amount = rng.Next(1, 101);
        return () => CallAsync(payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            FromAccountId = ids[from], ToAccountId = ids[to], AmountMinor = amount, CurrencyCode = "EUR", Reference = "bench",
            RequestId = RequestIds.Next(),
        }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
    };

    private static async Task<Outcome> CallAsync<T>(Task<T> call)
    {
        try
        {
            await call;
            return Outcome.Ok;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition) { return Outcome.Rejected; }
        catch (RpcException e) when (e.StatusCode == StatusCode.Aborted) { return Outcome.Conflict; }
        catch (RpcException) { return Outcome.Failed; }
    }

    /// <summary>Transfers within the set by several callers while two readers list the set; each listing must add up.</summary>
    private static async Task<SnapshotResult> SnapshotsAsync(
        GrpcChannel channel, PaymentService.PaymentServiceClient payments, IReadOnlyList<string> set, string word, TimeSpan duration)
    {
        var query = new QueryService.QueryServiceClient(channel);
        var expected = set.Count * Funding;
        // Wait until the read side shows the whole funded set before counting anything against it.
        while (await SumAsync(query, word) != (set.Count, expected)) await Task.Delay(50);

        using var stop = new CancellationTokenSource(duration);
        long taken = 0, outOfBalance = 0, incomplete = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (count, sum) = await SumAsync(query, word);
                Interlocked.Increment(ref taken);
                if (count != set.Count) Interlocked.Increment(ref incomplete);
                else if (sum != expected) Interlocked.Increment(ref outOfBalance);
            }
        })).ToList();
        var writers = await Load.ClosedAsync("snapshot transfers", TransferResult.SnapshotCallers, duration, Transfer(payments, set));
        await Task.WhenAll(readers);
        return new SnapshotResult(taken, outOfBalance, incomplete, writers.Ok, writers.Elapsed.TotalSeconds);
    }

    private static async Task<(int Count, long Sum)> SumAsync(QueryService.QueryServiceClient query, string word)
    {
        var page = await query.SearchAccountsAsync(new SearchAccountsRequest { Query = word, PageSize = 100 }, deadline: DateTime.UtcNow.AddSeconds(30));
        return (page.Accounts.Count, page.Accounts.Sum(a => a.BalanceMinor));
    }
}
