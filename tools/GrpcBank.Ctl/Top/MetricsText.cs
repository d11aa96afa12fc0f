using System.Globalization;

namespace GrpcBank.Ctl.Top;

/// <summary>One series of a Prometheus text scrape: its name, labels and value.</summary>
public sealed record Series(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out var value) ? value : "";
}

/// <summary>
/// Reads the Prometheus text exposition format that the server's <c>/metrics</c> serves (samples only: comments, types
/// and help lines are skipped). Enough of the format for the server's own output, not a general parser.
/// </summary>
public static class MetricsText
{
    public static IReadOnlyList<Series> Parse(string text)
    {
        var series = new List<Series>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var labels = new Dictionary<string, string>();
            var i = line.IndexOfAny(['{', ' ']);
            if (i < 0) continue;
            var name = line[..i];
            if (line[i] == '{') i = ReadLabels(line, i + 1, labels);
            var rest = line[i..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (rest.Length == 0 || !TryValue(rest[0], out var value)) continue;
            series.Add(new Series(name, labels, value));
        }
        return series;
    }

    /// <summary>Reads <c>a="x",b="y"}</c> from <paramref name="i"/>; returns the index after the closing brace.</summary>
    private static int ReadLabels(string line, int i, Dictionary<string, string> labels)
    {
        while (i < line.Length && line[i] != '}')
        {
            var equals = line.IndexOf('=', i);
            var key = line[i..equals].Trim(' ', ',');
            var value = new System.Text.StringBuilder();
            var j = equals + 2; // past ="
            for (; j < line.Length && line[j] != '"'; j++)
            {
                if (line[j] == '\\' && j + 1 < line.Length)
                {
                    j++;
                    value.Append(line[j] == 'n' ? '\n' : line[j]);
                }
                else value.Append(line[j]);
            }
            labels[key] = value.ToString();
            i = j + 1;
            while (i < line.Length && line[i] is ',' or ' ') i++;
        }
        return i + 1;
    }

    /// <summary>A sample value or an <c>le</c> bound: a float, or +Inf, -Inf, NaN.</summary>
    public static bool TryValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf": value = double.PositiveInfinity; return true;
            case "-Inf": value = double.NegativeInfinity; return true;
            case "NaN": value = double.NaN; return true;
            default: return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }
}
