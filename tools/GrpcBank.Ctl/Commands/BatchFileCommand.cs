using System.CommandLine;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl batch: a file of money commands (a payroll run, a settlement file) through ExecuteBatch.</summary>
public static class BatchFileCommand
{
    /// <summary>The protocol's bounds of one request (bank.batch.v1.ExecuteBatch): commands, and protobuf bytes with room to spare.</summary>
    private const int MaxCommands = 8_192;
    private const int MaxBytes = 8 * 1024 * 1024 - 64 * 1024;

    public static Command Build()
    {
        var file = new Argument<FileInfo>("file") { Description = "One command per line, as the JSON API takes them; '-' reads standard input" };
        var atomic = new Option<bool>("--atomic") { Description = "All or nothing, in one commit (the file must fit in one request: 8,192 commands, 8 MiB)" };
        var command = new Command("batch", """
            Runs a file of deposits, withdrawals and transfers through bank.batch.v1.BatchService/ExecuteBatch. One
            command per line in proto JSON, as the JSON API takes them; blank lines and lines starting with # are skipped:
              {"deposit": {"accountId": "ada", "amountMinor": 250000, "currencyCode": "EUR", "reference": "salary", "requestId": "pay-2026-12-ada"}}
              {"withdraw": {"accountId": "ada", "amountMinor": 1200, "currencyCode": "EUR", "requestId": "fee-2026-12-ada"}}
              {"transfer": {"fromAccountId": "ada", "toAccountId": "bob", "amountMinor": 5000, "currencyCode": "EUR", "requestId": "rent-2026-12"}}
            Give every line its own requestId: running the file again then changes nothing (each command gets its first
            answer back), and a run cut short can simply be run again. A file larger than one request is sent in several,
            in order. Prints each command that failed with its line number, then a summary; exit 0 when every command was
            done, 1 when any was refused (with --atomic: nothing was written).

            Examples:
              bankctl batch payroll-2026-12.jsonl
              bankctl batch settlement.jsonl --atomic
            """)
        {
            file, atomic,
        };
        command.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var source = parsed.GetValue(file)!;
            var lines = await ReadAsync(source, ct);
            var requests = Split(lines, parsed.GetValue(atomic));
            var client = new BatchService.BatchServiceClient(session.Channel);
            var failed = new List<int>();
            var done = 0;
            foreach (var (request, n) in requests.Select((r, n) => (r, n + 1)))
            {
                ExecuteBatchResponse reply;
                try
                {
                    reply = await client.ExecuteBatchAsync(request.Message, session.Call(ct));
                }
                catch (RpcException e) when (request.Message.Atomic && FailedIndex(e.GetRpcStatus()) is { } i && i < request.Lines.Count)
                {
                    await session.Error.WriteLineAsync($"bankctl: nothing was written: the command on line {request.Lines[i]} was refused.");
                    throw;
                }
                catch (RpcException) when (requests.Count > 1)
                {
                    await session.Error.WriteLineAsync($"bankctl: request {n} of {requests.Count} (lines {request.Lines[0]}–{request.Lines[^1]}) " +
                                                       "failed as a whole; the ones before it were answered. Run the file again to finish it.");
                    throw;
                }
                for (var i = 0; i < reply.Results.Count; i++)
                {
                    var result = reply.Results[i];
                    if (session.Json) await session.Out.WriteLineAsync(Format.Json(result));
                    if (result.ResultCase != BatchResult.ResultOneofCase.Error)
                    {
                        done++;
                        continue;
                    }
                    failed.Add(request.Lines[i]);
                    if (!session.Json) await session.Out.WriteLineAsync($"line {request.Lines[i]}: {Describe(result.Error)}");
                }
            }
            var withoutIds = lines.Count(l => l.Command.Deposit?.RequestId is "" || l.Command.Withdraw?.RequestId is "" || l.Command.Transfer?.RequestId is "");
            if (withoutIds > 0)
                await session.Error.WriteLineAsync($"bankctl: {Format.Count(withoutIds)} line(s) had no requestId: running the file again would run them again.");
            if (!session.Json)
                await session.Out.WriteLineAsync(
                    $"{Format.Count(lines.Count)} commands from {source.Name} in {Format.Count(requests.Count)} request(s): {Format.Count(done)} done, " +
                    $"{Format.Count(failed.Count)} refused{(failed.Count > 0 ? $" (lines {string.Join(", ", failed.Take(20))}{(failed.Count > 20 ? ", …" : "")})" : "")}.");
            return failed.Count == 0 ? ExitCode.Ok : ExitCode.Refused;
        }));
        return command;
    }

    private sealed record Line(int Number, BatchCommand Command);

    private sealed record Request(ExecuteBatchRequest Message, IReadOnlyList<int> Lines);

    private static async Task<IReadOnlyList<Line>> ReadAsync(FileInfo source, CancellationToken ct)
    {
        string[] text;
        if (source.Name == "-")
            text = (await Console.In.ReadToEndAsync(ct)).Split('\n');
        else if (!source.Exists)
            throw new UsageException($"no file '{source.FullName}'");
        else
        {
            // A file that is there but cannot be read (no permission, an I/O error, gone since Exists) was an unhandled
            // exception with its stack trace; it is a usage error like a file that is not there.
            try
            {
                text = await File.ReadAllLinesAsync(source.FullName, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot read '{source.FullName}': {e.Message}");
            }
        }
        var lines = new List<Line>();
        for (var i = 0; i < text.Length; i++)
        {
            var line = text[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            try
            {
                lines.Add(new Line(i + 1, JsonParser.Default.Parse<BatchCommand>(line)));
            }
            // A line that is JSON but no command (InvalidProtocolBufferException), or no JSON at all (InvalidJsonException).
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException)
            {
                throw new UsageException($"line {i + 1} is not a command ({e.Message}); a line is e.g. " +
                                         """{"deposit": {"accountId": "ada", "amountMinor": 100, "currencyCode": "EUR", "requestId": "r-1"}}""");
            }
        }
        if (lines.Count == 0) throw new UsageException($"'{source.Name}' holds no command");
        return lines;
    }

    /// <summary>Consecutive lines in requests of at most <see cref="MaxCommands"/> commands and <see cref="MaxBytes"/>; atomic: exactly one.</summary>
    private static IReadOnlyList<Request> Split(IReadOnlyList<Line> lines, bool atomic)
    {
        var requests = new List<Request>();
        var (current, numbers, bytes) = (new ExecuteBatchRequest { Atomic = atomic }, new List<int>(), 0L);
        foreach (var line in lines)
        {
            var size = line.Command.CalculateSize() + 8;
            if (numbers.Count > 0 && (numbers.Count == MaxCommands || bytes + size > MaxBytes))
            {
                if (atomic)
                    throw new UsageException($"an atomic batch is one request, of at most {Format.Count(MaxCommands)} commands and 8 MiB: " +
                                             $"the file does not fit (line {line.Number} would start a second)");
                requests.Add(new Request(current, numbers));
                (current, numbers, bytes) = (new ExecuteBatchRequest(), [], 0);
            }
            current.Commands.Add(line.Command);
            numbers.Add(line.Number);
            bytes += size;
        }
        requests.Add(new Request(current, numbers));
        return requests;
    }

    /// <summary>
    /// The command an atomic batch failed on: ErrorInfo's <c>index</c> for a refusal, or the first field violation's
    /// <c>commands[i]</c> for a command the server found invalid before deciding any.
    /// </summary>
    private static int? FailedIndex(Google.Rpc.Status? status)
    {
        if (status?.GetDetail<ErrorInfo>()?.Metadata.GetValueOrDefault("index") is { } index && int.TryParse(index, out var i)) return i;
        var field = status?.GetDetail<BadRequest>()?.FieldViolations.FirstOrDefault()?.Field ?? "";
        return field.StartsWith("commands[", StringComparison.Ordinal) && int.TryParse(field["commands[".Length..field.IndexOf(']')], out var j) ? j : null;
    }

    private static string Describe(Google.Rpc.Status error)
    {
        var text = $"{Failure.Name((StatusCode)error.Code)}";
        if (error.GetDetail<ErrorInfo>() is { } info) text += $" {info.Reason}";
        if (error.GetDetail<BadRequest>() is { } bad) text += string.Concat(bad.FieldViolations.Select(v => $" [{v.Field}: {v.Description}]"));
        return $"{text}: {error.Message}";
    }
}
