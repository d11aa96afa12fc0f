using System.Diagnostics;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Domain;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Payments;

/// <summary>
/// The public reason of a rejection (e.g. INSUFFICIENT_FUNDS). The edge names rejections; the payment process records
/// the name as the reason a step failed, so a payment's failure reason reads as the error a client would have seen.
/// </summary>
public delegate string RejectionReason(Rejection rejection);

/// <summary>
/// Runs the payment process: feeds each relayed event to <see cref="PaymentProcess.React"/> and issues the
/// steps. Every step carries a request id derived from (payment, step), so when the relay redelivers after a
/// crash the repeated commands are answered from the request log and change nothing.
/// </summary>
public sealed class PaymentProcessRunner(Handlers handlers, IEventStore store, RejectionReason reasonOf, ILogger<PaymentProcessRunner> logger)
    : IEventSink
{
    public string Name => "payment-process";

    /// <summary>How many payments advance at once; steps of one payment always run in order.</summary>
    private const int Parallelism = 16;

    public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        // An event settled atomically calls for no step, whatever its type: every event of an atomic transfer is one.
        var perPayment = events
            .Where(e => EventCodecs.TypeOf(e.EventType) is { } type && PaymentProcess.ReactsTo.Contains(type) && !EventCodecs.SaysSettledAtomically(e))
            .SelectMany(e => EventCodecs.Decode(e) is { } domainEvent ? PaymentProcess.React(domainEvent).Select(step => (Step: step, Cause: e)) : [])
            .GroupBy(work => work.Step.PaymentId);
        await Parallel.ForEachAsync(perPayment, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
            async (payment, token) =>
            {
                foreach (var (step, cause) in payment) await RunAsync(step, cause, token);
            });
    }

    /// <summary>
    /// One step in its own span: a child of the trace stored with the event that caused it (so the commands it issues,
    /// and their events, stay in the trace of the original request), linked to the relay batch that delivered it.
    /// </summary>
    private async Task RunAsync(ProcessStep step, RecordedEvent cause, CancellationToken ct)
    {
        var batch = Activity.Current?.Context;
        var command = step.Command switch
        {
            ProcessCommand.ToAccount c => c.Command.GetType().Name,
            ProcessCommand.ToOrder c => c.Command.GetType().Name,
            ProcessCommand.ToPayment c => c.Command.GetType().Name,
            ProcessCommand.ToTransfer c => c.Command.GetType().Name,
            _ => step.Command.GetType().Name,
        };
        var parent = Telemetry.StoredTraceContext(cause.MetadataJson) ?? batch ?? default;
        using var activity = Telemetry.Source.StartActivity($"payment process {command}", ActivityKind.Internal, parent,
                links: batch is { } b ? [new ActivityLink(b)] : null)
            ?? Telemetry.ContinueUnrecorded($"payment process {command}", parent);
        activity?.SetTag("grpcbank.payment_id", step.PaymentId);
        activity?.SetTag("grpcbank.request_id", step.RequestId);
        activity?.SetTag("grpcbank.cause.event_type", cause.EventType);
        activity?.SetTag("grpcbank.cause.position", cause.Position);
        try
        {
            await RunStepAsync(step, cause, ct);
        }
        catch (Exception e)
        {
            activity.Failed(e);
            throw;
        }
    }

    private async Task RunStepAsync(ProcessStep step, RecordedEvent cause, CancellationToken ct)
    {
        // A recorded rejection settles the step for good (see ProcessStep).
        if (step.IfRejected is not null && await store.FindRequestAsync(step.RejectedRequestId, ct) is not null) return;

        var outcome = await IssueAsync(step.Command, step.RequestId, cause, ct);
        if (outcome is not CommandOutcome<StreamReply>.Rejected rejected) return;
        if (step.IfRejected is { } report)
        {
            var reported = await IssueAsync(report(reasonOf(rejected.Rejection)), step.RejectedRequestId, cause, ct);
            if (reported is not CommandOutcome<StreamReply>.Accepted)
                throw new InvalidOperationException($"{step.RejectedRequestId}: the rejection report was not accepted: {reported}");
            return;
        }
        if (step.ReturnsMoney)
            throw new RefusedEventException(
                $"payment process step {step.RequestId} was refused ({reasonOf(rejected.Rejection)}): the payment's money stays in flight until it is retried");
        logger.LogError("Payment process step {RequestId} was rejected ({Reason}) after {EventType} at position {Position}",
            step.RequestId, reasonOf(rejected.Rejection), cause.EventType, cause.Position);
    }

    private async Task<CommandOutcome<StreamReply>> IssueAsync(ProcessCommand command, string requestId, RecordedEvent cause, CancellationToken ct)
    {
        // The fingerprint is the request id itself: a step is the same request however often it is issued.
        var context = new CommandContext(requestId, requestId, CorrelationId: cause.StreamId, CausationId: cause.EventId.ToString(),
            Principal: "payment-process");
        var outcome = await handlers.HandleAsync(command, context, ct);
        return outcome switch
        {
            CommandOutcome<StreamReply>.Accepted or CommandOutcome<StreamReply>.Rejected => outcome,
            // Contention that outlasted the handler's retries: fail the batch, the relay backs off and redelivers.
            _ => throw new InvalidOperationException($"{requestId}: {outcome}"),
        };
    }
}
