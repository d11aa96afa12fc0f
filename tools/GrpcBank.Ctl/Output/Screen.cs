using Spectre.Console;
using Spectre.Console.Rendering;

namespace GrpcBank.Ctl.Output;

/// <summary>
/// Where human output is drawn. On a terminal, Spectre.Console draws it (borders, bold headers, a live progress bar,
/// wrapped to the window). Redirected to a pipe, a file or a test, it is plain text that scripts can parse: no escape
/// codes, no borders, no wrapping, no trailing blanks.
/// </summary>
public sealed class Screen(TextWriter output, bool terminal)
{
    private IAnsiConsole? console;

    /// <summary>Only the process's own standard output, and only when it is not redirected, is a terminal.</summary>
    public static Screen For(TextWriter output) => new(output, ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected);

    public bool IsTerminal => terminal;

    /// <summary>The Spectre console of a terminal (it detects colours, width and interactivity itself).</summary>
    public IAnsiConsole Terminal => terminal
        ? console ??= AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) })
        : throw new InvalidOperationException("the output is not a terminal");

    /// <summary>
    /// Runs <paramref name="work"/> under a live progress bar on the terminal; work reports how far it is (0 to 1) and
    /// what it is doing.
    /// </summary>
    public Task<T> WithProgressAsync<T>(Func<Action<double, string>, Task<T>> work) =>
        Terminal.Progress()
            .Columns(new ProgressBarColumn(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
            .StartAsync(progress =>
            {
                var task = progress.AddTask("starting", maxValue: 1);
                return work((fraction, description) => (task.Value, task.Description) = (fraction, Markup.Escape(description)));
            });

    public void Write(IRenderable renderable)
    {
        if (terminal)
        {
            Terminal.Write(renderable);
            return;
        }
        using var text = new StringWriter();
        var plain = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        plain.Profile.Width = int.MaxValue;
        plain.Write(renderable);
        foreach (var line in text.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')) output.WriteLine(line.TrimEnd());
    }
}
