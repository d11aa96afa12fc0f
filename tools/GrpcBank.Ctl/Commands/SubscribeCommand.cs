using System.CommandLine;
using Grpc.Core;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl subscribe: every event in global order, history first and then live, until --max, --timeout or Ctrl+C.</summary>
public static class SubscribeCommand
{
    public static Command Build()
    {
        var fromPosition = new Option<long>("--from-position")
        {
            Description = "Start after this global position (exclusive; default 0: from the first event)", HelpName = "N",
        }.InRange(0);
        var prefixes = new Option<string[]>("--prefix")
        {
            Description = "Only event types starting with P (repeatable), e.g. accounts. or payments.PaymentCompleted",
            HelpName = "P",
        };
        var max = new Option<int?>("--max")
        {
            Description = "Stop after N events (default: run until Ctrl+C)", HelpName = "N",
        }.InRange(1);
        var subscribe = new Command("subscribe", """
            Tails the event store: every event after --from-position in global order, then new ones as they commit.
            One line per event; with --json one JSON object per line. Ctrl+C ends it (exit 0), and so does --timeout N,
            after N seconds. A server that stops or goes away ends it with the --from-position to resume from (exit 1 or 3).

            Examples:
              bankctl subscribe --from-position 120 --prefix payments.
              bankctl subscribe --max 5 --json
            """)
        {
            fromPosition, prefixes, max,
        };
        subscribe.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var request = new SubscribeAllRequest { FromPosition = parsed.GetValue(fromPosition) };
            request.EventTypePrefixes.AddRange(parsed.GetValue(prefixes) ?? []);
            var limit = parsed.GetValue(max);
            var options = session.Streaming(ct);
            using var call = new HistoryService.HistoryServiceClient(session.Channel).SubscribeAll(request, options);
            var seen = 0;
            var last = request.FromPosition;
            try
            {
                while (seen < limit.GetValueOrDefault(int.MaxValue) && await call.ResponseStream.MoveNext(ct))
                {
                    var e = call.ResponseStream.Current.Event;
                    await session.Out.WriteLineAsync(session.Json
                        ? Format.Json(e)
                        : $"{e.Position,8}  {Format.Time(e.RecordedAt)}  {e.StreamId}@{e.StreamVersion}  {e.EventType}  {e.DataJson}");
                    await session.Out.FlushAsync(CancellationToken.None);
                    seen++;
                    last = e.Position;
                }
            }
            catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                // Ctrl+C is how a tail is meant to end.
            }
            catch (RpcException e) when (options.Deadline is { } deadline && DateTime.UtcNow >= deadline
                                         && e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Unavailable)
            {
                // So is the --timeout given to it (a subscription has none otherwise): tail for that long. A deadline that
                // cuts the stream while the server writes may reach the client as a cancelled or reset stream instead.
            }
            catch (RpcException e) when (SubscriptionEnd.IsEndOfAStartedSubscription(e, seen))
            {
                // A stop (UNAVAILABLE, SERVER_STOPPING) or a server that vanished (kill -9, a failover) mid-tail: it was
                // reported as "cannot reach a GrpcBank server … start one", and neither said where to pick the tail up.
                var ended = SubscriptionEnd.Describe(e, session.Server, last, request.EventTypePrefixes);
                await session.Error.WriteLineAsync(ended.Message);
                if (session.Verbose) await session.Error.WriteLineAsync(e.ToString());
                return ended.ExitCode;
            }
            return ExitCode.Ok;
        }));
        return subscribe;
    }
}
