using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl projections status | rebuild: the relay's consumers (read side, payment process).</summary>
public static class ProjectionsCommand
{
    private const int BarWidth = 30;

    public static Command Build()
    {
        var status = new Command("status", """
            Shows every projection and process: state, position against the store's head, lag in events and seconds,
            dead letters, when the relay last completed a pass, and the last error.

            Example:
              bankctl projections status
            """);
        status.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var reply = await new ProjectionService.ProjectionServiceClient(session.Channel)
                .GetProjectionStatusAsync(new GetProjectionStatusRequest(), session.Call(ct));
            if (session.Json)
            {
                await session.Out.WriteLineAsync(Format.Json(reply));
                return ExitCode.Ok;
            }
            var table = new Table("NAME", "STATE", "POSITION", "HEAD", "LAG_EVENTS", "LAG_SECONDS", "DEAD_LETTERS", "LAST_PASS", "LAST_ERROR");
            foreach (var p in reply.Projections)
                table.Add(p.Name, Format.Enum(p.State), p.Position.ToString(), p.HeadPosition.ToString(), p.LagEvents.ToString(),
                    p.LagSeconds.ToString("0.0", CultureInfo.InvariantCulture), p.DeadLetters.ToString(),
                    p.LastPassAt is null ? "never" : Format.Time(p.LastPassAt), p.LastError is { Length: > 0 } error ? error : "-");
            table.WriteTo(session.Out);
            return ExitCode.Ok;
        }));

        var rebuild = new Command("rebuild", """
            Builds a fresh read side from the event store while the old one keeps serving, then switches queries to it.
            Shows a progress bar (events replayed against the head position when the replay began) and a final line with totals.
            With --json, prints each progress message as one JSON object per line.

            Example:
              bankctl projections rebuild
            """);
        rebuild.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var clock = Stopwatch.StartNew();
            using var call = new ProjectionService.ProjectionServiceClient(session.Channel)
                .RebuildProjections(new RebuildProjectionsRequest(), session.Streaming(ct));
            var progress = new ProgressBar(session.Out, interactive: ReferenceEquals(session.Out, Console.Out) && !Console.IsOutputRedirected);
            RebuildProjectionsResponse? last = null;
            while (await call.ResponseStream.MoveNext(ct))
            {
                last = call.ResponseStream.Current;
                if (session.Json) await session.Out.WriteLineAsync(Format.Json(last));
                else progress.Show(last);
            }
            if (session.Json) return ExitCode.Ok;
            progress.Finish();
            if (last is null)
            {
                await session.Out.WriteLineAsync("The server ended the rebuild without reporting progress.");
                return ExitCode.Refused;
            }
            await session.Out.WriteLineAsync(
                $"Rebuild {(last.Phase == RebuildPhase.Done ? "done" : "ended at phase " + Format.Enum(last.Phase))}: " +
                $"replayed {Format.Count(last.ReplayedEvents)} events (head was {Format.Count(last.TargetPosition)} when it began) " +
                $"in {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s.");
            return last.Phase == RebuildPhase.Done ? ExitCode.Ok : ExitCode.Refused;
        }));

        return new Command("projections", "Operates the projections and processes fed by the relay.\n\nExample:\n  bankctl projections status") { status, rebuild };
    }

    /// <summary>
    /// On a terminal, one bar redrawn in place; otherwise (a pipe, a file, a test) a line per phase and per tenth of the way,
    /// so logs stay short.
    /// </summary>
    private sealed class ProgressBar(TextWriter output, bool interactive)
    {
        private RebuildPhase phase = RebuildPhase.Unspecified;
        private int tenth = -1;
        private bool drawn;

        public void Show(RebuildProjectionsResponse p)
        {
            var fraction = p.TargetPosition <= 0 ? (p.Phase == RebuildPhase.Replaying ? 0 : 1) : Math.Min(1.0, (double)p.ReplayedEvents / p.TargetPosition);
            if (p.Phase != RebuildPhase.Replaying) fraction = 1;
            var filled = (int)Math.Round(fraction * BarWidth);
            var line = $"[{new string('#', filled)}{new string('.', BarWidth - filled)}] {fraction * 100,3:0}%  " +
                $"{Format.Enum(p.Phase),-9}  {Format.Count(p.ReplayedEvents)} / {Format.Count(p.TargetPosition)} events";
            if (interactive)
            {
                output.Write($"\r{line}");
                drawn = true;
                return;
            }
            var nowTenth = (int)(fraction * 10);
            if (p.Phase == phase && nowTenth == tenth) return;
            (phase, tenth) = (p.Phase, nowTenth);
            output.WriteLine(line);
        }

        public void Finish()
        {
            if (drawn) output.WriteLine();
        }
    }
}
