using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace GrpcBank.Ctl.Top;

/// <summary>How one <see cref="TopSample"/> looks: the same tables drawn live on a terminal and printed plain elsewhere.</summary>
public static class TopView
{
    private const int MaxReasons = 6;

    public static IRenderable Waiting(Uri server) =>
        new Markup($"[bold]GrpcBank top[/]  {Markup.Escape(server.ToString())}  waiting for the first sample…");

    public static IRenderable Render(Uri server, TopSample s)
    {
        var totals = new Table().Border(TableBorder.Rounded)
            .AddColumns("COMMANDS/S", "P50 MS", "P99 MS", "REJECTIONS/S");
        totals.AddRow(Number(s.CommandsPerSecond, "0.0"), Number(s.P50Ms, "0.00"), Number(s.P99Ms, "0.00"), Number(s.RejectionsPerSecond, "0.0"));

        var reasons = new Table().Border(TableBorder.Rounded).AddColumns("REJECTION REASON", "PER S", "TOTAL");
        foreach (var r in s.Rejections.Take(MaxReasons)) reasons.AddRow(r.Reason, Number(r.PerSecond, "0.0"), r.Total.ToString(CultureInfo.InvariantCulture));
        if (s.Rejections.Count == 0) reasons.AddRow("(none)", "-", "-");

        var consumers = new Table().Border(TableBorder.Rounded)
            .AddColumns("CONSUMER", "STATE", "LAG EVENTS", "LAG S", "DEAD LETTERS", "LAST PASS", "LAST ERROR");
        foreach (var c in s.Consumers)
            consumers.AddRow(Markup.Escape(c.Name), c.State, c.LagEvents.ToString(CultureInfo.InvariantCulture), Number(c.LagSeconds, "0.0"),
                c.DeadLetters.ToString(CultureInfo.InvariantCulture),
                c.LastPassSecondsAgo is { } ago ? $"{ago.ToString("0.0", CultureInfo.InvariantCulture)} s ago" : "never",
                Markup.Escape(c.LastError is { Length: > 0 } e ? Shorten(e) : "-"));

        var title = new Markup(
            $"[bold]GrpcBank top[/]  {Markup.Escape(server.ToString())}  {s.Time.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} UTC  (Ctrl+C quits)");
        return new Rows(title, totals, reasons, consumers);
    }

    private static string Number(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
