using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl projections status | rebuild: the relay's consumers (read side, payment process).</summary>
public static class ProjectionsCommand
{
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
            table.WriteTo(session.Screen);
            return ExitCode.Ok;
        }));

        var rebuild = new Command("rebuild", """
            Builds a fresh read side from the event store while the old one keeps serving, then switches queries to it.
            Shows progress (events replayed against the head position when the replay began) and a final line with totals:
            a live bar on a terminal, a line per phase and per tenth of the way when redirected.
            With --json, prints each progress message as one JSON object per line.

            Example:
              bankctl projections rebuild
            """);
        rebuild.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var clock = Stopwatch.StartNew();
            using var call = new ProjectionService.ProjectionServiceClient(session.Channel)
                .RebuildProjections(new RebuildProjectionsRequest(), session.Streaming(ct));
            if (session.Json)
            {
                await ReceiveAsync(call, message => session.Out.WriteLine(Format.Json(message)), ct);
                return ExitCode.Ok;
            }
            var last = session.Screen.IsTerminal
                ? await session.Screen.WithProgressAsync(report => ReceiveAsync(call, message => report(Fraction(message), Describe(message)), ct))
                : await ReceiveAsync(call, new ProgressLines(session.Out).Show, ct);
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

    /// <summary>Hands each progress message to <paramref name="show"/>; returns the last one, or null if there was none.</summary>
    private static async Task<RebuildProjectionsResponse?> ReceiveAsync(
        AsyncServerStreamingCall<RebuildProjectionsResponse> call, Action<RebuildProjectionsResponse> show, CancellationToken ct)
    {
        RebuildProjectionsResponse? last = null;
        while (await call.ResponseStream.MoveNext(ct))
        {
            last = call.ResponseStream.Current;
            show(last);
        }
        return last;
    }

    /// <summary>How far the rebuild is, 0 to 1: events replayed against the head when it began; every later phase is 1.</summary>
    private static double Fraction(RebuildProjectionsResponse p) =>
        p.Phase != RebuildPhase.Replaying ? 1
        : p.TargetPosition <= 0 ? 0
        : Math.Min(1.0, (double)p.ReplayedEvents / p.TargetPosition);

    private static string Describe(RebuildProjectionsResponse p) =>
        $"{Format.Enum(p.Phase),-9}  {Format.Count(p.ReplayedEvents)} / {Format.Count(p.TargetPosition)} events";

    /// <summary>Progress for a pipe, a file or a test: a line per phase and per tenth of the way, so logs stay short.</summary>
    private sealed class ProgressLines(TextWriter output)
    {
        private RebuildPhase phase = RebuildPhase.Unspecified;
        private int tenth = -1;

        public void Show(RebuildProjectionsResponse p)
        {
            var fraction = Fraction(p);
            var nowTenth = (int)(fraction * 10);
            if (p.Phase == phase && nowTenth == tenth) return;
            (phase, tenth) = (p.Phase, nowTenth);
            output.WriteLine($"{fraction * 100,3:0}%  {Describe(p)}");
        }
    }
}
