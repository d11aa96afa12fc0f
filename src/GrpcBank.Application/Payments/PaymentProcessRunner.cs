using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Payments;

/// <summary>
/// Runs the payment process: feeds each relayed event to <see cref="PaymentProcess.React"/> and issues the
/// steps. Every step carries a request id derived from (payment, step), so when the relay redelivers after a
/// crash the repeated commands are answered from the request log and change nothing.
/// </summary>
public sealed class PaymentProcessRunner(Handlers handlers, IEventStore store, ILogger<PaymentProcessRunner> logger) : IEventSink
{
    public string Name => "payment-process";

    /// <summary>How many payments advance at once; steps of one payment always run in order.</summary>
    private const int Parallelism = 16;

    public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        var perPayment = events
            .SelectMany(e => EventCodecs.Decode(e) is { } domainEvent ? PaymentProcess.React(domainEvent).Select(step => (Step: step, Cause: e)) : [])
            .GroupBy(work => work.Step.PaymentId);
        await Parallel.ForEachAsync(perPayment, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
            async (payment, token) =>
            {
                foreach (var (step, cause) in payment) await RunAsync(step, cause, token);
            });
    }

    private async Task RunAsync(ProcessStep step, RecordedEvent cause, CancellationToken ct)
    {
        // A recorded rejection settles the step for good (see ProcessStep).
        if (step.IfRejected is not null && await store.FindRequestAsync(step.RejectedRequestId, ct) is not null) return;

        var outcome = await IssueAsync(step.Command, step.RequestId, cause, ct);
        if (outcome is not CommandOutcome.Rejected rejected) return;
        if (step.IfRejected is { } report)
        {
            var reported = await IssueAsync(report(rejected.Rejection.Reason), step.RejectedRequestId, cause, ct);
            if (reported is not CommandOutcome.Accepted)
                throw new InvalidOperationException($"{step.RejectedRequestId}: the rejection report was not accepted: {reported}");
            return;
        }
        logger.LogError("Payment process step {RequestId} was rejected ({Reason}) after {EventType} at position {Position}",
            step.RequestId, rejected.Rejection.Reason, cause.EventType, cause.Position);
    }

    private async Task<CommandOutcome> IssueAsync(ProcessCommand command, string requestId, RecordedEvent cause, CancellationToken ct)
    {
        // The fingerprint is the request id itself: a step is the same request however often it is issued.
        var context = new CommandContext(requestId, requestId, CorrelationId: cause.StreamId, CausationId: cause.EventId.ToString(),
            Principal: "payment-process");
        var outcome = await handlers.HandleAsync(command, context, ct);
        return outcome switch
        {
            CommandOutcome.Accepted or CommandOutcome.Rejected => outcome,
            // Contention that outlasted the handler's retries: fail the batch, the relay backs off and redelivers.
            _ => throw new InvalidOperationException($"{requestId}: {outcome}"),
        };
    }
}
