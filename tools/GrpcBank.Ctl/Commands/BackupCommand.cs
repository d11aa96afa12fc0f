using System.CommandLine;
using GrpcBank.Ctl.Backup;
using GrpcBank.Ctl.Cli;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl backup: a consistent copy of an embedded data directory, taken while its server runs.</summary>
public static class BackupCommand
{
    public static Command Build()
    {
        var source = new Argument<string>("data-directory") { Description = "The server's data directory (Storage:DataDirectory)" };
        var destination = new Argument<string>("destination") { Description = "A folder that does not exist yet, or is empty, for the copy" };
        var command = new Command("backup", """
            Copies an embedded data directory while its server runs (on the server's machine; no server address is
            used): each SQLite file through SQLite's online backup, a consistent snapshot of it, where a plain cp of
            a file and its WAL taken while the server writes may copy them out of step. The read store is copied
            before the event store, so the copy's read store is never ahead of its events; a server started on the
            copy gives its read side what it lacks. Start a server on the destination to restore it.

            Example:
              bankctl backup /var/lib/grpcbank /backups/grpcbank-2026-12-08
            """)
        {
            source, destination,
        };
        command.SetAction(async (parsed, ct) =>
        {
            try
            {
                var copied = await DataDirectoryBackup.RunAsync(parsed.GetValue(source)!, parsed.GetValue(destination)!, ct);
                await parsed.InvocationConfiguration.Output.WriteLineAsync(
                    $"Backed up {string.Join(", ", copied)} to {Path.GetFullPath(parsed.GetValue(destination)!)}.");
                return ExitCode.Ok;
            }
            catch (BackupRefusedException e)
            {
                await parsed.InvocationConfiguration.Error.WriteLineAsync($"bankctl: {e.Message}");
                return ExitCode.Refused;
            }
        });
        return command;
    }
}
