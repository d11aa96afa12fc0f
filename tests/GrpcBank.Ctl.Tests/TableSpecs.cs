using System.Text.RegularExpressions;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl's tables: drawn by Spectre.Console on a terminal, plain text that scripts can parse elsewhere.</summary>
public sealed class TableSpecs
{
    private static readonly string LongPayload = $"{{\"ownerName\":\"{new string('x', 300)}\"}}";

    [Fact]
    public void Redirected_ATableIsPlainText_ColumnsTwoSpacesApart_OneLinePerRow_WithoutTrailingBlanks()
    {
        var output = new StringWriter();

        Sample().WriteTo(new Screen(output, terminal: false));

        Assert.Equal(
            $"ID  TYPE       DATA\n1   opened     {LongPayload}\n10  [red]x[/]  -\n",
            output.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void OnATerminal_ATableHasBorders_AndLongCellsWrapToTheWidth()
    {
        var output = new StringWriter();
        var screen = new Screen(output, terminal: true);

        Sample().WriteTo(screen);

        // Headers are bold (an escape code where the terminal takes them); the text in between is what a person reads.
        var text = Regex.Replace(output.ToString(), @"\e\[[\d;]*m", "");
        var lines = text.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.StartsWith("╭", lines[0]);
        Assert.Contains("│ ID ", lines[1]);
        Assert.StartsWith("╰", lines[^1]);
        Assert.All(lines, line => Assert.True(line.Length <= screen.Terminal.Profile.Width, line));
        Assert.Contains("[red]x[/]", text);
        Assert.Equal(300, lines.Sum(line => line.Count(c => c == 'x')) - 1);
    }

    private static Table Sample() => new Table("ID", "TYPE", "DATA").Add("1", "opened", LongPayload).Add("10", "[red]x[/]", "-");
}
