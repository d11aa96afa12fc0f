using System.CommandLine;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl deadletters list | retry: events a consumer could not handle, set aside.</summary>
public static class DeadLettersCommand
{
    public static Command Build()
    {
        var after = new Option<long>("--after")
        {
            Description = "Only dead letters after this position (exclusive; the last one of the previous page)", HelpName = "N",
        }.InRange(0);
        var max = new Option<int>("--max")
        {
            Description = "At most N (1 to 1000, default 100)", HelpName = "N", DefaultValueFactory = _ => 100,
        }.InRange(1, 1_000);
        var list = new Command("list", """
            Lists dead letters in position order: consumer, position, stream, event type, when it failed and why.

            Example:
              bankctl deadletters list --after 1200 --max 20
            """)
        {
            after, max,
        };
        list.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var reply = await new ProjectionService.ProjectionServiceClient(session.Channel).ListDeadLettersAsync(
                new ListDeadLettersRequest { AfterPosition = parsed.GetValue(after), PageSize = parsed.GetValue(max) }, session.Call(ct));
            if (session.Json)
            {
                await session.Out.WriteLineAsync(Format.Json(reply));
                return ExitCode.Ok;
            }
            if (reply.DeadLetters.Count == 0)
            {
                await session.Out.WriteLineAsync($"No dead letters{(parsed.GetValue(after) > 0 ? $" after position {parsed.GetValue(after)}" : "")} ({reply.TotalSize} in all).");
                return ExitCode.Ok;
            }
            var table = new Table("CONSUMER", "POSITION", "STREAM", "TYPE", "FAILED_AT", "ERROR");
            foreach (var d in reply.DeadLetters)
                table.Add(d.Consumer, d.Position.ToString(), d.StreamId, d.EventType, Format.Time(d.FailedAt), d.Error);
            table.WriteTo(session.Screen);
            var lastPosition = reply.DeadLetters[^1].Position;
            // The total counts the letters before --after too, so only a full page says there may be more.
            await session.Out.WriteLineAsync($"{reply.DeadLetters.Count} shown, {reply.TotalSize} in all." +
                (reply.DeadLetters.Count >= parsed.GetValue(max) && reply.DeadLetters.Count < reply.TotalSize ? $" Next page: --after {lastPosition}" : ""));
            return ExitCode.Ok;
        }));

        var positions = new Option<long[]>("--position")
        {
            Description = "Retry the dead letter at this position (repeatable; none: retry every one)", HelpName = "N",
        };
        var retry = new Command("retry", """
            Hands dead letters to their consumer again; those it now handles are removed.

            Examples:
              bankctl deadletters retry
              bankctl deadletters retry --position 1203 --position 1207
            """)
        {
            positions,
        };
        retry.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var request = new RetryDeadLettersRequest();
            request.Positions.AddRange(parsed.GetValue(positions) ?? []);
            var reply = await new ProjectionService.ProjectionServiceClient(session.Channel).RetryDeadLettersAsync(request, session.Call(ct));
            await session.Out.WriteLineAsync(session.Json
                ? Format.Json(reply)
                : $"Retried {reply.Retried}; {reply.Remaining} dead letter{(reply.Remaining == 1 ? "" : "s")} remain{(reply.Remaining == 1 ? "s" : "")}.");
            return ExitCode.Ok;
        }));

        return new Command("deadletters", "Lists and retries events the relay's consumers could not handle.\n\nExample:\n  bankctl deadletters list") { list, retry };
    }
}
