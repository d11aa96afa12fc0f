using Spectre.Console;
using Spectre.Console.Rendering;

namespace GrpcBank.Ctl.Output;

/// <summary>
/// A table of text cells drawn by Spectre.Console: bordered with bold headers on a terminal, cells wrapped to fit the
/// window; plain elsewhere, a header row and columns two spaces apart, padded to their widest cell, one line per row.
/// </summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public Table Add(params string[] cells)
    {
        rows.Add(cells);
        return this;
    }

    public int Count => rows.Count;

    public void WriteTo(Screen screen) => screen.Write(Render(screen.IsTerminal));

    /// <summary>The table as it is drawn on a terminal (<paramref name="terminal"/>) or printed plain.</summary>
    public IRenderable Render(bool terminal)
    {
        var table = new Spectre.Console.Table().Border(terminal ? TableBorder.Rounded : TableBorder.None);
        for (var i = 0; i < headers.Length; i++)
        {
            var column = new TableColumn(new Text(headers[i], terminal ? new Style(decoration: Decoration.Bold) : Style.Plain));
            if (!terminal) column.Padding(0, 0, i < headers.Length - 1 ? 2 : 0, 0);
            table.AddColumn(column);
        }
        // Text, never markup: payloads and errors hold brackets.
        foreach (var row in rows) table.AddRow(row.Select(cell => new Text(cell)));
        return table;
    }
}
