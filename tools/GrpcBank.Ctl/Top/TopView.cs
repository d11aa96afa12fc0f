using System.Globalization;
using Spectre.Console;
using Table = GrpcBank.Ctl.Output.Table;
using Spectre.Console.Rendering;

namespace GrpcBank.Ctl.Top;

/// <summary>How one <see cref="TopSample"/> looks: the same tables drawn live on a terminal and printed plain elsewhere.</summary>
public static class TopView
{
    private const int MaxReasons = 6;

    public static IRenderable Waiting(Uri server) =>
        new Markup($"[bold]GrpcBank top[/]  {Markup.Escape(server.ToString())}  waiting for the first sample…");

    /// <param name="terminal">Drawn live on a terminal (bordered tables); printed plain elsewhere (columns two spaces apart).</param>
    public static IRenderable Render(Uri server, TopSample s, bool terminal)
    {
        var totals = new Table("COMMANDS/S", "P50 MS", "P99 MS", "REJECTIONS/S")
            .Add(Number(s.CommandsPerSecond, "0.0"), Number(s.P50Ms, "0.00"), Number(s.P99Ms, "0.00"), Number(s.RejectionsPerSecond, "0.0"));

        var reasons = new Table("REJECTION REASON", "PER S", "TOTAL");
        foreach (var r in s.Rejections.Take(MaxReasons)) reasons.Add(r.Reason, Number(r.PerSecond, "0.0"), r.Total.ToString(CultureInfo.InvariantCulture));
        if (s.Rejections.Count == 0) reasons.Add("(none)", "-", "-");

        var consumers = new Table("CONSUMER", "STATE", "LAG EVENTS", "LAG S", "DEAD LETTERS", "LAST PASS", "LAST ERROR");
        foreach (var c in s.Consumers)
            consumers.Add(c.Name, c.State, c.LagEvents.ToString(CultureInfo.InvariantCulture), Number(c.LagSeconds, "0.0"),
                c.DeadLetters.ToString(CultureInfo.InvariantCulture),
                c.LastPassSecondsAgo is { } ago ? $"{ago.ToString("0.0", CultureInfo.InvariantCulture)} s ago" : "never",
                c.LastError is { Length: > 0 } e ? Shorten(e) : "-");

        var title = new Markup(
            $"[bold]GrpcBank top[/]  {Markup.Escape(server.ToString())}  {s.Time.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} UTC  (Ctrl+C quits)");
        // Printed plain, a blank line ends each table, so a script can tell them (and the samples) apart.
        return terminal
            ? new Rows(title, totals.Render(true), reasons.Render(true), consumers.Render(true))
            : new Rows(title, totals.Render(false), Text.NewLine, reasons.Render(false), Text.NewLine, consumers.Render(false), Text.NewLine);
    }

    private static string Number(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
