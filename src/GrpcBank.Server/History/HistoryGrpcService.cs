using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.History;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Server.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using RecordedEvent = GrpcBank.Contracts.History.V1.RecordedEvent;
using Stored = GrpcBank.Application.EventStore.RecordedEvent;

namespace GrpcBank.Server.History;

/// <summary>bank.history.v1.HistoryService: reads the event store itself, never the read side.</summary>
public sealed class HistoryGrpcService(
    IEventStore store, AccountHistory history, LiveEvents live, SubscriptionSlots slots, IHostApplicationLifetime lifetime)
    : HistoryService.HistoryServiceBase
{
    private const int SubscribeBatch = 200;
    private const int MaxPrefixes = 20;

    /// <summary>How long a stop waits for a subscription's write that the client's flow control holds back.</summary>
    private static readonly TimeSpan StalledWriteGrace = TimeSpan.FromSeconds(2);

    public override async Task<ReadStreamResponse> ReadStream(ReadStreamRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("from_version", request.FromVersion);
        if (!IsStreamId(request.StreamId))
            errors.Add("stream_id", "must be account-{id}, order-{id} or payment-{id}");
        if (request.MaxCount is < 0 or > 1_000) errors.Add("max_count", "must be between 1 and 1000 (0 means 100)");
        errors.ThrowIfAny();

        var maxCount = request.MaxCount == 0 ? 100 : request.MaxCount;
        // One more than asked tells whether the stream goes on.
        var events = await store.ReadStreamAsync(request.StreamId, Math.Max(1, request.FromVersion), maxCount + 1, context.CancellationToken);
        var response = new ReadStreamResponse { NextVersion = events.Count > maxCount ? events[maxCount].StreamVersion : 0 };
        response.Events.AddRange(events.Take(maxCount).Select(ToProto));
        return response;
    }

    public override async Task<GetAccountAsOfResponse> GetAccountAsOf(GetAccountAsOfRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().Id("account_id", request.AccountId);
        if (request.AsOfCase == GetAccountAsOfRequest.AsOfOneofCase.None)
            errors.Add("as_of", "set as_of_time or as_of_version");
        if (request.AsOfCase == GetAccountAsOfRequest.AsOfOneofCase.AsOfVersion && request.AsOfVersion < 1)
            errors.Add("as_of_version", "must be at least 1");
        var asOfTime = request.AsOfCase == GetAccountAsOfRequest.AsOfOneofCase.AsOfTime ? errors.Time("as_of_time", request.AsOfTime) : null;
        errors.ThrowIfAny();

        var (maxVersion, until) = request.AsOfCase == GetAccountAsOfRequest.AsOfOneofCase.AsOfVersion
            ? (request.AsOfVersion, DateTimeOffset.MaxValue)
            : (long.MaxValue, asOfTime!.Value);
        var asOf = await history.AsOfAsync(request.AccountId, maxVersion, until, context.CancellationToken)
            ?? throw ErrorMapper.Error(Google.Rpc.Code.NotFound, ErrorMapper.Reason(new AccountRejection.AccountNotFound(request.AccountId)),
                $"account '{request.AccountId}' did not exist at that {(request.AsOfVersion > 0 ? "version" : "time")}");
        if (request.AsOfCase == GetAccountAsOfRequest.AsOfOneofCase.AsOfVersion && asOf.Version < request.AsOfVersion)
            new FieldErrors().Add("as_of_version", $"is beyond the account's current version {asOf.Version}").ThrowIfAny();

        var s = asOf.State;
        return new GetAccountAsOfResponse
        {
            AccountId = s.AccountId,
            OwnerName = s.OwnerName,
            CurrencyCode = s.CurrencyCode,
            BalanceMinor = s.BalanceMinor,
            Status = AccountStatusOnTheWire.ToHistory(s.Status),
            Version = asOf.Version,
            AsOf = Timestamp.FromDateTimeOffset(asOf.RecordedAt),
        };
    }

    /// <summary>
    /// Catch-up then live, within the caller's share of <see cref="SubscriptionSlots"/>. The next batch is read only after
    /// the previous one was written to the client, so a slow client holds at most one batch (200 events) in server
    /// memory (HTTP/2 flow control pushes back on the writes). Caught up, it waits for <see cref="LiveEvents"/> to say
    /// there is more, without reading the store itself.
    /// </summary>
    public override async Task SubscribeAll(SubscribeAllRequest request, IServerStreamWriter<SubscribeAllResponse> responseStream, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("from_position", request.FromPosition);
        if (request.EventTypePrefixes.Count > MaxPrefixes) errors.Add("event_type_prefixes", $"at most {MaxPrefixes} prefixes");
        foreach (var prefix in request.EventTypePrefixes) errors.Text("event_type_prefixes", prefix, 100, required: true);
        errors.ThrowIfAny();

        // A checkpoint from another bank or an older backup would otherwise wait in silence, then skip the positions between.
        if (request.FromPosition > 0 && await store.HeadPositionAsync(context.CancellationToken) is var head && request.FromPosition > head)
            throw ErrorMapper.BeyondHead("from_position", request.FromPosition, head);

        var http = context.GetHttpContext();
        using var slot = slots.Take(http.User.Identity?.Name ?? $"peer {Security.Authenticator.Peer(http)}");
        var prefixes = request.EventTypePrefixes.ToArray();
        var after = request.FromPosition;
        // A live subscription never completes, so the host's stop (Kestrel waits for the calls in flight) would wait for
        // it its whole shutdown timeout (30 s) and then cut it off: it ends as the server begins to stop.
        using var served = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = served.Token;
        // A write is not cancelled by the stop itself: grpc-dotnet resets the stream of a write cancelled midway (RST_STREAM
        // CANCEL), so a subscriber whose write waited for its HTTP/2 window saw CANCELLED instead of SERVER_STOPPING, and
        // no reason to resubscribe. The write is let finish, and the stop is heard before the next one; only a client that
        // reads nothing for StalledWriteGrace is cut off, so that it cannot hold the stop for the shutdown timeout.
        using var writes = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        using var stalled = lifetime.ApplicationStopping.Register(() => writes.CancelAfter(StalledWriteGrace));
        try
        {
            while (true)
            {
                // Heard before each read, not only before a write: a filtered subscription crossing a long run of events its
                // prefixes leave out writes nothing, and the embedded store's reads do not look at the token, so a caller
                // that had gone (or a stop) held its slot while the server read on to the end of the run (200,000 events,
                // over 2 s; FilteredSubscriptionSpecs).
                ct.ThrowIfCancellationRequested();
                var events = await store.ReadAllAsync(after, SubscribeBatch, ct);
                foreach (var e in events)
                {
                    if (prefixes.Length == 0 || prefixes.Any(p => e.EventType.StartsWith(p, StringComparison.Ordinal)))
                    {
                        ct.ThrowIfCancellationRequested();
                        await responseStream.WriteAsync(new SubscribeAllResponse { Event = ToProto(e) }, writes.Token);
                    }
                    after = e.Position;
                }
                if (events.Count > 0) live.Observe(after);
                if (events.Count < SubscribeBatch) await live.WaitPastAsync(after, ct);
            }
        }
        catch (Exception e) when (EndedCalls.IsEndOf(e, context))
        {
            // The client went away or its deadline passed: the subscription ends and gives its slot back.
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // Not OK, which would tell the client the stream is complete: UNAVAILABLE, so it subscribes again from the
            // last position it received, on another server or on this one once it is back.
            throw ErrorMapper.ServerStopping("subscribe again from the last position received");
        }
    }

    private static bool IsStreamId(string streamId) =>
        StreamIds.Parse(streamId).Exists(s => FieldErrors.IsId(s.AggregateId, FieldErrors.MaxIdLength + Order.PaymentIdPrefix.Length));


    private static RecordedEvent ToProto(Stored e) => new()
    {
        EventId = e.EventId.ToString(),
        StreamId = e.StreamId,
        StreamVersion = e.StreamVersion,
        Position = e.Position,
        EventType = e.EventType,
        RecordedAt = Timestamp.FromDateTimeOffset(e.RecordedAt),
        DataJson = e.DataJson,
        MetadataJson = e.MetadataJson,
    };
}
