using System.CommandLine;
using Grpc.Core;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Verify;

namespace GrpcBank.Ctl.Commands;

/// <summary>
/// bankctl verify: folds every stream of the event store (read once through HistoryService.SubscribeAll) with the Domain's
/// Evolve, and compares the result with the read side (QueryService) and the money invariants. Public gRPC API only.
/// </summary>
public static class VerifyCommand
{
    /// <summary>Without the store's head (no admin role), the feed counts as caught up once it is quiet this long.</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);
    private const int Parallelism = 8;
    private const int PageSize = 100;

    public static Command Build()
    {
        var verify = new Command("verify", """
            Checks the bank end to end: reads every event once (SubscribeAll from the start up to the store's head), folds each
            stream with the Domain's own Evolve, and compares every account, order and payment with the read side
            (GetAccount/GetOrder/GetPayment at min_position = the head) field by field. Also checks that stream versions run
            1..N without gaps, that positions strictly increase, and the money: each payment's debits and credits cancel out
            across accounts, no money is in flight (debited from a payer and not yet credited: money moves atomically, so
            any is drift, listed with its payment) and, per currency, the balances add up to deposits − withdrawals.
            The head is the event store's newest position from ProjectionService (admin role); without that role the feed
            counts as caught up after 1 s without an event. Exit 0 when clean, 4 on any drift; --json prints one JSON report.

            Example:
              bankctl verify
            """);
        verify.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var report = await VerifyAsync(session, ct);
            if (session.Json) await session.Out.WriteLineAsync(report.ToJson());
            else report.WriteText(session.Out);
            return report.Clean ? ExitCode.Ok : ExitCode.Drift;
        }));
        return verify;
    }

    private static async Task<VerifyReport> VerifyAsync(Session session, CancellationToken ct)
    {
        var head = await StoreHeadAsync(session, ct);
        var ledger = new Ledger();
        await ReadFeedAsync(session, ledger, head, ct);
        var cut = head ?? ledger.LastPosition;
        var headFrom = head is null ? "the feed went quiet; no admin role to ask ProjectionService for the head" : "the event store's head";

        var query = new QueryService.QueryServiceClient(session.Channel);
        var kinds = new[]
        {
            new Kind("account", ledger.Accounts.Select(a => (a.Id, Views.Of(a.State, a.Version))),
                async (id, call) => Views.Of((await query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = cut }, call)).Account),
                async (token, call) =>
                {
                    var page = await query.SearchAccountsAsync(new SearchAccountsRequest { PageSize = PageSize, PageToken = token, MinPosition = cut }, call);
                    return (page.Accounts.Select(a => a.AccountId), page.NextPageToken);
                }),
            new Kind("order", ledger.Orders.Select(o => (o.Id, Views.Of(o.State, o.Version))),
                async (id, call) => Views.Of((await query.GetOrderAsync(new GetOrderRequest { OrderId = id, MinPosition = cut }, call)).Order),
                async (token, call) =>
                {
                    var page = await query.SearchOrdersAsync(new SearchOrdersRequest { PageSize = PageSize, PageToken = token, MinPosition = cut }, call);
                    return (page.Orders.Select(o => o.OrderId), page.NextPageToken);
                }),
            new Kind("payment", ledger.Payments.Select(p => (p.Id, Views.Of(p.State, p.Version))),
                async (id, call) => Views.Of((await query.GetPaymentAsync(new GetPaymentRequest { PaymentId = id, MinPosition = cut }, call)).Payment),
                async (token, call) =>
                {
                    var page = await query.SearchPaymentsAsync(new SearchPaymentsRequest { PageSize = PageSize, PageToken = token, MinPosition = cut }, call);
                    return (page.Payments.Select(p => p.PaymentId), page.NextPageToken);
                }),
        };
        var history = new HistoryService.HistoryServiceClient(session.Channel);
        var problems = new List<Problem>(ledger.Problems);
        var changed = 0;
        foreach (var kind in kinds)
        {
            var (found, skipped) = await CompareAsync(session, history, ledger, kind, ct);
            problems.AddRange(found);
            changed += skipped;
        }
        var money = ledger.CheckMoney();
        problems.AddRange(money.Problems);
        var @checked = new Checked(ledger.Accounts.Count, ledger.Orders.Count, ledger.Payments.Count, changed);
        return new VerifyReport(cut, headFrom, ledger.Events, @checked, money, problems);
    }

    /// <summary>
    /// The newest committed position, from ProjectionService: the event at that position exists, so the feed is
    /// read exactly up to it. Null when this key may not ask (auditor) or the server has no ProjectionService.
    /// </summary>
    private static async Task<long?> StoreHeadAsync(Session session, CancellationToken ct)
    {
        try
        {
            var status = await new ProjectionService.ProjectionServiceClient(session.Channel)
                .GetProjectionStatusAsync(new GetProjectionStatusRequest(), session.Call(ct));
            return status.Projections.Count > 0 ? status.Projections.Max(p => p.HeadPosition) : null;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied or StatusCode.Unimplemented)
        {
            return null;
        }
    }

    /// <summary>Every event from the start, in global order, up to the head (or until the feed is quiet for <see cref="Idle"/>).</summary>
    private static async Task ReadFeedAsync(Session session, Ledger ledger, long? head, CancellationToken ct)
    {
        if (head == 0) return;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = new HistoryService.HistoryServiceClient(session.Channel)
            .SubscribeAll(new SubscribeAllRequest { FromPosition = 0 }, session.Streaming(stop.Token));
        try
        {
            while (true)
            {
                if (head is null) stop.CancelAfter(Idle);
                if (!await call.ResponseStream.MoveNext(stop.Token)) return;
                var e = call.ResponseStream.Current.Event;
                if (e.Position > head) return;
                ledger.Add(e.StreamId, e.StreamVersion, e.Position, e.EventType, e.DataJson);
                if (e.Position == head) return;
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested && stop.IsCancellationRequested
            && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            // Quiet for Idle: caught up.
        }
    }

    /// <summary>One kind of entity: its folded snapshots, how to get one view, and how to list every view.</summary>
    private sealed record Kind(
        string Name,
        IEnumerable<(string Id, Snapshot Expected)> Folded,
        Func<string, CallOptions, Task<Snapshot>> Get,
        Func<string, CallOptions, Task<(IEnumerable<string> Ids, string Next)>> List);

    /// <summary>
    /// Every folded entity against its view, field by field, then every view against the folds (a view with no stream).
    /// A view ahead of the fold whose stream did move on after the head changed meanwhile: skipped, not drift.
    /// </summary>
    private static async Task<(IReadOnlyList<Problem> Found, int Skipped)> CompareAsync(
        Session session, HistoryService.HistoryServiceClient history, Ledger ledger, Kind kind, CancellationToken ct)
    {
        var folded = kind.Folded.OrderBy(f => f.Id, StringComparer.Ordinal).ToList();
        var results = new IReadOnlyList<Problem>?[folded.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, folded.Count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
            async (i, token) =>
            {
                var (id, expected) = folded[i];
                Snapshot actual;
                try
                {
                    actual = await kind.Get(id, session.Call(token));
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    results[i] = [Problem.Drift(kind.Name, id, "exists", $"version {expected.Version}", "not found")];
                    return;
                }
                var diffs = expected.Fields.Zip(actual.Fields, (write, read) => (write.Field, Write: write.Value, Read: read.Value))
                    .Where(f => f.Write != f.Read)
                    .Select(f => Problem.Drift(kind.Name, id, f.Field, f.Write, f.Read))
                    .ToList();
                if (diffs.Count > 0 && actual.Version > expected.Version && await MovedOnAsync(session, history, $"{kind.Name}-{id}", expected.Version, token))
                    results[i] = null;
                else
                    results[i] = diffs;
            });

        var found = results.Where(r => r is not null).SelectMany(r => r!).ToList();
        var skipped = results.Count(r => r is null);
        var token = "";
        do
        {
            var (ids, next) = await kind.List(token, session.Call(ct));
            foreach (var id in ids.Where(id => !ledger.HasStream(kind.Name, id)))
            {
                if (await MovedOnAsync(session, history, $"{kind.Name}-{id}", 0, ct)) skipped++;
                else found.Add(Problem.Drift(kind.Name, id, "exists", "no stream", "a view"));
            }
            token = next;
        }
        while (token.Length > 0);
        return (found, skipped);
    }

    /// <summary>Whether the stream has events after <paramref name="version"/>: written after the head, so not verified this time.</summary>
    private static async Task<bool> MovedOnAsync(Session session, HistoryService.HistoryServiceClient history, string streamId, long version, CancellationToken ct) =>
        (await history.ReadStreamAsync(new ReadStreamRequest { StreamId = streamId, FromVersion = version + 1, MaxCount = 1 }, session.Call(ct))).Events.Count > 0;
}
