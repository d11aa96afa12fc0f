using System.CommandLine;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Commands;

namespace GrpcBank.Ctl;

/// <summary>bankctl: audit, time travel, the live feed, projections and demo data, over GrpcBank's public gRPC API.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Ctrl+C cancels the running command instead of killing the process, so a tail ends cleanly (exit 0).
        using var interrupted = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        try
        {
            return await RunAsync(args, Output.PipedOutput.Open(), Console.Error, interrupted.Token);
        }
        catch (IOException e) when (Output.PipedOutput.IsBrokenPipe(e))
        {
            // The reader of the output has gone (`bankctl subscribe | head -1`): nothing more is wanted, as when Ctrl+C ends a tail.
            return Cli.ExitCode.Ok;
        }
    }

    /// <summary>Runs one bankctl command line, writing to the given writers; returns the exit code (see <see cref="ExitCode"/>).</summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr) =>
        RunAsync(args, stdout, stderr, CancellationToken.None);

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var root = BuildRoot();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var error in parsed.Errors) await stderr.WriteLineAsync($"bankctl: {error.Message}");
            var command = string.Join(' ', CommandPath(parsed.CommandResult).Where(c => c != root).Select(c => c.Name));
            await stderr.WriteLineAsync($"Run 'bankctl {(command.Length > 0 ? command + " " : "")}--help' for usage and an example.");
            return ExitCode.Usage;
        }
        var configuration = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Main handles Ctrl+C itself (see above); in-process callers cancel through ct.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        };
        return await parsed.InvokeAsync(configuration, ct);
    }

    private static IEnumerable<Command> CommandPath(System.CommandLine.Parsing.CommandResult result) =>
        (result.Parent is System.CommandLine.Parsing.CommandResult parent ? CommandPath(parent) : []).Append(result.Command);

    private static RootCommand BuildRoot()
    {
        var root = new RootCommand("""
            bankctl talks to a GrpcBank server over its public gRPC API: read the event history, see any
            account as it was at a time or version, tail every event live, operate the projections, seed demo data,
            run a file of money commands as batches, and verify the read side and the money against the history.

            Examples:
              bankctl seed --accounts 20 --orders 40
              bankctl streams read account-ada
              bankctl accounts as-of ada --time 2025-03-01T12:00:00Z
              bankctl subscribe --prefix accounts. --json
              bankctl verify
              bankctl batch payroll-2026-12.jsonl
              bankctl top --metrics http://127.0.0.1:9464/metrics
            """);
        GlobalOptions.AddTo(root);
        root.Subcommands.Add(StreamsCommand.Build());
        root.Subcommands.Add(AccountsCommand.Build());
        root.Subcommands.Add(SubscribeCommand.Build());
        root.Subcommands.Add(ProjectionsCommand.Build());
        root.Subcommands.Add(DeadLettersCommand.Build());
        root.Subcommands.Add(SeedCommand.Build());
        root.Subcommands.Add(VerifyCommand.Build());
        root.Subcommands.Add(BatchFileCommand.Build());
        root.Subcommands.Add(TopCommand.Build());
        root.Subcommands.Add(BackupCommand.Build());
        return root;
    }
}
