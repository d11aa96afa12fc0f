using System.CommandLine;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl streams read: one stream's events as stored, in version order.</summary>
public static class StreamsCommand
{
    /// <summary>The server's largest page; longer reads ask again from next_version.</summary>
    private const int ServerPage = 1_000;

    public static Command Build()
    {
        var streamId = new Argument<string>("stream-id") { Description = "account-{id}, order-{id} or payment-{id}" };
        var fromVersion = new Option<long>("--from-version")
        {
            Description = "First version to show (default 1)", HelpName = "N", DefaultValueFactory = _ => 1,
        }.InRange(1);
        var max = new Option<int>("--max")
        {
            Description = "Show at most N events (default 100)", HelpName = "N", DefaultValueFactory = _ => 100,
        }.InRange(1);
        var read = new Command("read", """
            Shows a stream's events as the event store holds them: version, global position, type, when, payload.

            Example:
              bankctl streams read account-ada --from-version 2 --max 10
            """)
        {
            streamId, fromVersion, max,
        };
        read.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var history = new HistoryService.HistoryServiceClient(session.Channel);
            var response = new ReadStreamResponse();
            var next = parsed.GetValue(fromVersion);
            var left = parsed.GetValue(max);
            while (left > 0 && next > 0)
            {
                var page = await history.ReadStreamAsync(new ReadStreamRequest
                {
                    StreamId = parsed.GetValue(streamId), FromVersion = next, MaxCount = Math.Min(left, ServerPage),
                }, session.Call(ct));
                response.Events.AddRange(page.Events);
                left -= page.Events.Count;
                next = page.NextVersion;
                response.NextVersion = page.NextVersion;
            }
            // The server answers a stream it has never seen with no events, as it does a read past a stream's end; a
            // mistyped id must not pass for an empty stream (exit 0) in a script.
            if (response.Events.Count == 0 && !await ExistsAsync(history, parsed.GetValue(streamId)!, session, ct))
            {
                await session.Error.WriteLineAsync(
                    $"bankctl: no stream {parsed.GetValue(streamId)}: the event store holds no event of it (check the id)");
                return ExitCode.Refused;
            }
            if (session.Json)
            {
                await session.Out.WriteLineAsync(Format.Json(response));
                return ExitCode.Ok;
            }
            var table = new Table("VERSION", "POSITION", "TYPE", "RECORDED_AT", "DATA");
            foreach (var e in response.Events)
                table.Add(e.StreamVersion.ToString(), e.Position.ToString(), e.EventType, Format.Time(e.RecordedAt), e.DataJson);
            if (table.Count == 0)
                await session.Out.WriteLineAsync($"No events in {parsed.GetValue(streamId)} from version {parsed.GetValue(fromVersion)}.");
            else
                table.WriteTo(session.Screen);
            if (response.NextVersion > 0)
                await session.Out.WriteLineAsync($"(more from version {response.NextVersion}: add --from-version {response.NextVersion})");
            return ExitCode.Ok;
        }));
        return new Command("streams", "Reads the event store's streams (the source of truth).\n\nExample:\n  bankctl streams read account-ada") { read };
    }

    private static async Task<bool> ExistsAsync(HistoryService.HistoryServiceClient history, string streamId, Session session, CancellationToken ct) =>
        (await history.ReadStreamAsync(new ReadStreamRequest { StreamId = streamId, FromVersion = 1, MaxCount = 1 }, session.Call(ct))).Events.Count > 0;
}
