using System.Diagnostics;
using System.Text;
using Xunit;

namespace GrpcBank.Testing;

/// <summary>What a finished child process left: its exit code and its stdout and stderr, interleaved.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string Output)
{
    public override string ToString() => $"`{CommandLine}` exited with {ExitCode}:\n{Output}";
}

/// <summary>Runs commands as child processes, each bounded in time: on the timeout its whole tree is killed.</summary>
public static class ChildProcess
{
    public static async Task<ProcessResult> RunAsync(
        string file, IEnumerable<string> arguments, TimeSpan timeout, string workingDirectory,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var process = Start(file, arguments, workingDirectory, environment);
        var output = Capture(process);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            process.WaitForExit(); // the parameterless overload also waits for the output to be read to the end
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            var reason = TestContext.Current.CancellationToken.IsCancellationRequested ? "the test run was cancelled" : $"it took longer than {timeout.TotalSeconds:0} s";
            Assert.Fail($"Killed `{CommandLine(file, arguments)}` because {reason}. Output so far:\n{output}");
        }
        return new ProcessResult(CommandLine(file, arguments), process.ExitCode, output.ToString());
    }

    /// <summary>Starts <paramref name="file"/>; in <paramref name="environment"/>, a null value removes the variable.</summary>
    public static Process Start(string file, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // and closed below: nothing waits for a terminal
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            if (value is null) start.Environment.Remove(key);
            else start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        return process;
    }

    /// <summary>Collects stdout and stderr as they come (so neither pipe fills up); thread-safe to read while running.</summary>
    public static SharedOutput Capture(Process process)
    {
        var output = new SharedOutput();
        process.OutputDataReceived += (_, e) => output.Append(e.Data);
        process.ErrorDataReceived += (_, e) => output.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    public static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }
    }

    /// <summary>The first of these files found on PATH, or null.</summary>
    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);

    private static string CommandLine(string file, IEnumerable<string> arguments) =>
        string.Join(' ', arguments.Select(a => a.Contains(' ') || a.Length == 0 ? $"'{a}'" : a).Prepend(file));
}

public sealed class SharedOutput
{
    private readonly StringBuilder text = new();

    public void Append(string? line)
    {
        if (line is null) return;
        lock (text) text.AppendLine(line);
    }

    public override string ToString()
    {
        lock (text) return text.ToString();
    }
}
