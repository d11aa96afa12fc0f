namespace GrpcBank.Ctl.Output;

/// <summary>A plain-text table: a header row, columns padded to their widest cell, the last column left ragged.</summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public Table Add(params string[] cells)
    {
        rows.Add(cells);
        return this;
    }

    public int Count => rows.Count;

    public void WriteTo(TextWriter writer)
    {
        var all = rows.Prepend(headers).ToList();
        var widths = headers.Select((_, i) => all.Max(r => i < r.Length ? r[i].Length : 0)).ToArray();
        foreach (var row in all)
            writer.WriteLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
    }
}
