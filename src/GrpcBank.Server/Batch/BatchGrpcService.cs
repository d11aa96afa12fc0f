using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Domain.Payments;
using GrpcBank.Server.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using GrpcBank.Server.Payments;

namespace GrpcBank.Server.Batch;

/// <summary>
/// bank.batch.v1.BatchService: many deposits, withdrawals and transfers in one request. Independent commands are
/// decided in order and written as one group, an append each (<see cref="IndependentBatch"/>); any it does not write
/// (refused, or whose stream another writer changed) then runs as its single RPC would. An atomic batch is one decision
/// and one append (<see cref="AtomicBatch"/>). The limits and error shapes are the proto's.
/// </summary>
public sealed class BatchGrpcService(Handlers handlers, TransientFaultLog transientFaults, ILogger<BatchGrpcService> logger) : BatchService.BatchServiceBase
{
    public const int MaxCommands = 8_192;

    /// <summary>
    /// The largest request (protobuf bytes): 8,192 commands of 1 KiB each on average. Every other RPC takes at most 1 MiB,
    /// which 8,192 transfers with ids, request ids and references of everyday length (~150 bytes each) already pass.
    /// </summary>
    public const int MaxRequestBytes = 8 * 1024 * 1024;

    /// <summary>Independent commands in flight at once: enough to fill the store's groups.</summary>
    private const int Parallelism = 256;

    // A command's fingerprint names its own RPC: sent alone or in a batch, it is the same request.
    private const string DepositMethod = "/bank.accounts.v1.AccountService/DepositMoney";
    private const string WithdrawMethod = "/bank.accounts.v1.AccountService/WithdrawMoney";
    private const string TransferMethod = "/bank.payments.v1.PaymentService/TransferMoney";

    public override async Task<ExecuteBatchResponse> ExecuteBatch(ExecuteBatchRequest request, ServerCallContext context)
    {
        Validate(request);
        var results = request.Atomic ? await AtomicAsync(request, context) : await IndependentAsync(request, context);
        return new ExecuteBatchResponse { Results = { results } };
    }

    private static void Validate(ExecuteBatchRequest request)
    {
        if (request.Commands.Count is 0 or > MaxCommands)
            new FieldErrors().Add("commands", $"must hold 1 to {MaxCommands} commands (it holds {request.Commands.Count})").ThrowIfAny();
        var errors = new FieldErrors();
        var requestIds = new HashSet<string>(StringComparer.Ordinal);
        int? reasonedAt = null;
        for (var i = 0; i < request.Commands.Count; i++)
        {
            var command = request.Commands[i];
            var prefix = Prefix(i, command);
            switch (command.CommandCase)
            {
                case BatchCommand.CommandOneofCase.None:
                    errors.Add($"commands[{i}].command", "must set one of deposit, withdraw, transfer");
                    continue;
                case BatchCommand.CommandOneofCase.Deposit when command.Deposit.HasExpectedVersion:
                case BatchCommand.CommandOneofCase.Withdraw when command.Withdraw.HasExpectedVersion:
                    errors.Add(prefix + "expected_version", "is not supported in a batch");
                    break;
            }
            if (!request.Atomic) continue;
            // All or nothing: a malformed command fails the request before anything is decided.
            var error = Capture(() => ValidateCommand(command, prefix));
            // Each violation keeps its domain rule's reason (INVALID_AMOUNT, …), as the single RPC answers it.
            foreach (var violation in error?.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [])
            {
                errors.Add(violation.Field, violation.Description, violation.Reason);
                if (violation.Reason.Length > 0) reasonedAt ??= i;
            }
            var requestId = RequestIdOf(command);
            if (requestId.Length > 0 && !requestIds.Add(requestId))
                errors.Add(prefix + "request_id", "is used by an earlier command of this atomic batch");
        }
        // The ErrorInfo is the first reasoned violation's: it names that command's index, as a refusal of the batch does.
        if (errors.ToStatus() is { } status) throw (reasonedAt is { } index ? Indexed(status, index) : status).ToRpcException();
    }

    private async Task<IReadOnlyList<BatchResult>> IndependentAsync(ExecuteBatchRequest request, ServerCallContext context)
    {
        var results = new BatchResult?[request.Commands.Count];
        var ct = context.CancellationToken;
        var principal = CallContext.PrincipalOf(context);
        var transient = new TransientFaults(transientFaults);
        await WriteTogetherAsync(request, principal, results, context, transient);
        // A logged request id broke the chain of every command behind it on its account: with those answered from the log,
        // the rest is written together too, not left to run one by one.
        if (await ReplayLoggedAsync(request, principal, results, context) && results.Any(r => r is null))
            await WriteTogetherAsync(request, principal, results, context, transient);
        // Whatever was not answered there runs as the single RPC would, many at once (the store's group commit shares
        // their transactions): the answer a single call would get, on a fresh read where it needs one.
        foreach (var uses in UsesOfEachRequestId(request, results))
            await Parallel.ForEachAsync(uses, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct }, async (i, _) =>
            {
                var command = request.Commands[i];
                var prefix = Prefix(i, command);
                try
                {
                    results[i] = command.CommandCase switch
                    {
                        BatchCommand.CommandOneofCase.Deposit => new BatchResult
                        {
                            Deposit = await AccountGrpcService.Deposit(
                                handlers, command.Deposit, CallContext.For(command.Deposit, principal, DepositMethod), ct, prefix),
                        },
                        BatchCommand.CommandOneofCase.Withdraw => new BatchResult
                        {
                            Withdraw = await AccountGrpcService.Withdraw(
                                handlers, command.Withdraw, CallContext.For(command.Withdraw, principal, WithdrawMethod), ct, prefix),
                        },
                        _ => new BatchResult
                        {
                            Transfer = await PaymentGrpcService.Transfer(
                                handlers, command.Transfer, CallContext.For(command.Transfer, principal, TransferMethod), ct, prefix),
                        },
                    };
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    // Independent: whatever fails one command is its answer alone (UNAVAILABLE, or INTERNAL with a logged
                    // error id, as for a single call), and the others' answers — some of them written — still reach the caller.
                    results[i] = new BatchResult { Error = StatusOf(e, context, transient) };
                }
            });
        if (transient.Count > 1 && transient.Logged)
            logger.LogWarning("{Count} commands of this batch failed on transient infrastructure faults, answered UNAVAILABLE; the first was logged with its cause",
                transient.Count);
        return results!;
    }

    /// <summary>
    /// The unanswered commands in rounds: the first use of each request id (and every command without one), then the second
    /// uses, and so on. An id used twice in the batch is its first use's, as in the group (<see cref="WriteTogetherAsync"/>):
    /// run side by side, a later use on another account could log the id first and get the earlier refused as reused.
    /// </summary>
    private static IEnumerable<IEnumerable<int>> UsesOfEachRequestId(ExecuteBatchRequest request, BatchResult?[] results)
    {
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        var rounds = new List<List<int>>();
        for (var i = 0; i < request.Commands.Count; i++)
        {
            if (results[i] is not null) continue;
            var round = RequestIdOf(request.Commands[i]) is { Length: > 0 } id ? uses[id] = uses.GetValueOrDefault(id) + 1 : 1;
            while (rounds.Count < round) rounds.Add([]);
            rounds[round - 1].Add(i);
        }
        return rounds;
    }

    /// <summary>
    /// The transient faults of one batch call. In an outage (a full disk, a database restarting) every command fails alike,
    /// and a warning with its stack trace for each flooded the log with up to 8,192 for one call: the first is logged, the
    /// rest counted. A fault of the bank's own is still logged for each command, each with its own error id. The first
    /// goes unlogged too when the server's <see cref="TransientFaultLog"/> is quiet, and the count with it.
    /// </summary>
    private sealed class TransientFaults(TransientFaultLog log)
    {
        public int Count;

        /// <summary>Whether the first was logged.</summary>
        public bool Logged { get; private set; }

        /// <summary>Counts one; for the first, the server's admission (<see cref="ErrorInterceptor.Translate"/>); null for the rest.</summary>
        public int? First()
        {
            if (Interlocked.Increment(ref Count) != 1) return null;
            var admitted = log.Admit();
            Logged = admitted is not null;
            return admitted;
        }
    }

    /// <summary>
    /// The valid commands (each request id at its first use in the batch) decided in order and written in one group
    /// (<see cref="IndependentBatch"/>): answers those it wrote. A fault of that write whose outcome is unknown is the
    /// answer of each of them, as it would be of each command of a group commit.
    /// </summary>
    private async Task WriteTogetherAsync(
        ExecuteBatchRequest request, string? principal, BatchResult?[] results, ServerCallContext context, TransientFaults transient)
    {
        var requestIds = new HashSet<string>(StringComparer.Ordinal);
        var indexes = Unanswered(request, results).Where(i => RequestIdOf(request.Commands[i]) is not { Length: > 0 } id || requestIds.Add(id)).ToList();
        if (indexes.Count == 0) return;
        IReadOnlyList<CommandOutcome<object>.Accepted?> answers;
        try
        {
            answers = await handlers.IndependentBatch.RunAsync([.. indexes.Select(i => ItemOf(request.Commands[i], principal))], context.CancellationToken);
        }
        catch (Exception e) when (!context.CancellationToken.IsCancellationRequested)
        {
            var error = StatusOf(e, context, transient);
            foreach (var i in indexes) results[i] = new BatchResult { Error = error.Clone() };
            return;
        }
        for (var k = 0; k < indexes.Count; k++)
            if (answers[k] is { } accepted)
                results[indexes[k]] = ResultOf(request.Commands[indexes[k]], accepted.Reply, accepted.Position);
    }

    /// <summary>
    /// Answers the unanswered valid commands whose request id is logged (by an earlier call, or by the batch's own group
    /// for a later use of an id) from the log, in one lookup (<see cref="IndependentBatch.ReplayLoggedAsync"/>): their
    /// single RPCs would answer the same. Whether it answered any. A fault of the lookup leaves them all to the single
    /// path, which answers each as its single RPC would (UNAVAILABLE, or INTERNAL with its error id).
    /// </summary>
    private async Task<bool> ReplayLoggedAsync(ExecuteBatchRequest request, string? principal, BatchResult?[] results, ServerCallContext context)
    {
        var indexes = Unanswered(request, results).Where(i => RequestIdOf(request.Commands[i]).Length > 0).ToList();
        if (indexes.Count == 0) return false;
        IReadOnlyList<CommandOutcome<object>?> answers;
        try
        {
            answers = await handlers.IndependentBatch.ReplayLoggedAsync([.. indexes.Select(i => ItemOf(request.Commands[i], principal))], context.CancellationToken);
        }
        catch (Exception) when (!context.CancellationToken.IsCancellationRequested)
        {
            return false;
        }
        var answered = false;
        for (var k = 0; k < indexes.Count; k++)
        {
            var (i, command) = (indexes[k], request.Commands[indexes[k]]);
            switch (answers[k])
            {
                case CommandOutcome<object>.Accepted accepted:
                    results[i] = ResultOf(command, accepted.Reply, accepted.Position);
                    break;
                case { } refused:
                    results[i] = new BatchResult { Error = ErrorMapper.StatusOf(Capture(() => ErrorMapper.AcceptedOrThrow(refused))!) };
                    break;
                default:
                    continue;
            }
            answered = true;
        }
        return answered;
    }

    /// <summary>The commands not answered yet whose fields are valid (a malformed one is answered by its single RPC's validation).</summary>
    private static IEnumerable<int> Unanswered(ExecuteBatchRequest request, BatchResult?[] results) =>
        Enumerable.Range(0, request.Commands.Count).Where(i =>
            results[i] is null && Capture(() => ValidateCommand(request.Commands[i], Prefix(i, request.Commands[i]))) is null);

    private async Task<IReadOnlyList<BatchResult>> AtomicAsync(ExecuteBatchRequest request, ServerCallContext context)
    {
        var principal = CallContext.PrincipalOf(context);
        switch (await handlers.AtomicBatch.RunAsync([.. request.Commands.Select(c => ItemOf(c, principal))], context.CancellationToken))
        {
            case AtomicBatchOutcome.Accepted accepted:
                return [.. request.Commands.Select((c, i) => ResultOf(c, accepted.Replies[i], accepted.Positions[i]))];
            case AtomicBatchOutcome.Failed failed:
                var error = Capture(() => ErrorMapper.AcceptedOrThrow(failed.Outcome))!;
                throw AtIndex(error, failed.Index, Prefix(failed.Index, request.Commands[failed.Index]));
            default:
                throw new InvalidOperationException("unknown batch outcome");
        }
    }

    /// <summary>A command of the batch as the batch handlers take it (validated before).</summary>
    private static BatchItem ItemOf(BatchCommand c, string? principal) => c.CommandCase switch
    {
        BatchCommand.CommandOneofCase.Deposit => new BatchItem.ToAccount(c.Deposit.AccountId,
            AccountGrpcService.DepositCommand(c.Deposit), AccountReply.For(c.Deposit.AccountId), typeof(AccountReply),
            CallContext.For(c.Deposit, principal, DepositMethod)),
        BatchCommand.CommandOneofCase.Withdraw => new BatchItem.ToAccount(c.Withdraw.AccountId,
            AccountGrpcService.WithdrawCommand(c.Withdraw), AccountReply.For(c.Withdraw.AccountId), typeof(AccountReply),
            CallContext.For(c.Withdraw, principal, WithdrawMethod)),
        _ => TransferOf(c.Transfer, principal),
    };

    /// <summary>The result of a written command: its RPC's response.</summary>
    private static BatchResult ResultOf(BatchCommand c, object reply, long position) => c.CommandCase switch
    {
        BatchCommand.CommandOneofCase.Deposit => new BatchResult { Deposit = AccountGrpcService.DepositResponse((AccountReply)reply, position) },
        BatchCommand.CommandOneofCase.Withdraw => new BatchResult { Withdraw = AccountGrpcService.WithdrawResponse((AccountReply)reply, position) },
        _ => new BatchResult { Transfer = PaymentGrpcService.TransferResponse((StreamReply)reply, position) },
    };

    /// <summary>Validates one command's fields as its single RPC does (named where it sits in the batch).</summary>
    private static void ValidateCommand(BatchCommand command, string prefix)
    {
        switch (command.CommandCase)
        {
            case BatchCommand.CommandOneofCase.Deposit: AccountGrpcService.Validate(command.Deposit, prefix); break;
            case BatchCommand.CommandOneofCase.Withdraw: AccountGrpcService.Validate(command.Withdraw, prefix); break;
            case BatchCommand.CommandOneofCase.Transfer: PaymentGrpcService.Validate(command.Transfer, prefix); break;
        }
    }

    /// <summary>A command's failure as its result: the status the single RPC would answer.</summary>
    private Google.Rpc.Status StatusOf(Exception e, ServerCallContext context, TransientFaults transient)
    {
        var error = e as RpcException ?? ErrorInterceptor.Translate(e, context, logger, transient.First);
        return ErrorMapper.StatusOf(error);
    }

    private static BatchItem.Transfer TransferOf(Contracts.Payments.V1.TransferMoneyRequest transfer, string? principal)
    {
        var command = PaymentGrpcService.CommandOf(transfer);
        return new(command, StreamReply.For<PaymentState>(command.PaymentId), typeof(StreamReply), CallContext.For(transfer, principal, TransferMethod));
    }

    /// <summary>The failure of the command at <paramref name="index"/> as the whole call's: its message and details say which.</summary>
    private static RpcException AtIndex(RpcException error, int index, string prefix)
    {
        var status = Indexed(ErrorMapper.StatusOf(error), index);
        status.Message = $"commands[{index}]: {status.Message}";
        for (var d = 0; d < status.Details.Count; d++)
        {
            if (status.Details[d].TryUnpack<BadRequest>(out var bad))
            {
                foreach (var violation in bad.FieldViolations) violation.Field = prefix + violation.Field;
                status.Details[d] = Any.Pack(bad);
            }
        }
        return status.ToRpcException();
    }

    /// <summary><paramref name="status"/> with its ErrorInfo's metadata naming the command at <paramref name="index"/>.</summary>
    private static Google.Rpc.Status Indexed(Google.Rpc.Status status, int index)
    {
        for (var d = 0; d < status.Details.Count; d++)
            if (status.Details[d].TryUnpack<ErrorInfo>(out var info))
            {
                info.Metadata["index"] = index.ToString();
                status.Details[d] = Any.Pack(info);
            }
        return status;
    }

    private static RpcException? Capture(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (RpcException e)
        {
            return e;
        }
    }

    private static string Prefix(int index, BatchCommand command) => command.CommandCase switch
    {
        BatchCommand.CommandOneofCase.Deposit => $"commands[{index}].deposit.",
        BatchCommand.CommandOneofCase.Withdraw => $"commands[{index}].withdraw.",
        BatchCommand.CommandOneofCase.Transfer => $"commands[{index}].transfer.",
        _ => $"commands[{index}].",
    };

    private static string RequestIdOf(BatchCommand command) => command.CommandCase switch
    {
        BatchCommand.CommandOneofCase.Deposit => command.Deposit.RequestId,
        BatchCommand.CommandOneofCase.Withdraw => command.Withdraw.RequestId,
        BatchCommand.CommandOneofCase.Transfer => command.Transfer.RequestId,
        _ => "",
    };
}
