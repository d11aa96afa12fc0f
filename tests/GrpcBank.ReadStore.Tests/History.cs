using System.Text.Json;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// Synthetic recorded events as the event store would hand them to the read side: global positions,
/// stream versions, stable event ids and fixed timestamps, so results are reproducible.
/// </summary>
public sealed class History
{
    public static readonly DateTimeOffset Start = new(2026, 1, 30, 9, 0, 0, TimeSpan.Zero);

    private readonly Dictionary<string, long> versions = [];
    private long position;

    /// <summary>When the next event is recorded; advanced by <see cref="At"/> or a minute per event.</summary>
    public DateTimeOffset Now { get; private set; } = Start;

    public long Position => position;

    public History At(DateTimeOffset at)
    {
        Now = at;
        return this;
    }

    public RecordedEvent Account(AccountEvent e) => Record("account", "accountId", EventCodecs.Accounts.Encode(e));

    public RecordedEvent Order(OrderEvent e) => Record("order", "orderId", EventCodecs.Orders.Encode(e));

    public RecordedEvent Payment(PaymentEvent e) => Record("payment", "paymentId", EventCodecs.Payments.Encode(e));

    public RecordedEvent Opened(string accountId, string owner, string currency = "EUR") =>
        Account(new AccountEvent.AccountOpened(accountId, owner, currency));

    public RecordedEvent Deposited(string accountId, long amount, string currency = "EUR", string reference = "") =>
        Account(new AccountEvent.MoneyDeposited(accountId, amount, currency, reference));

    public RecordedEvent Withdrawn(string accountId, long amount, string currency = "EUR", string reference = "") =>
        Account(new AccountEvent.MoneyWithdrawn(accountId, amount, currency, reference));

    private RecordedEvent Record(string category, string idProperty, (string EventType, string DataJson) encoded)
    {
        var streamId = $"{category}-{IdOf(encoded.DataJson, idProperty)}";
        position++;
        var version = versions[streamId] = versions.GetValueOrDefault(streamId) + 1;
        var recorded = new RecordedEvent(position, streamId, version, new Guid((int)position, 0, 0, new byte[8]),
            encoded.EventType, encoded.DataJson, "{}", Now);
        Now = Now.AddMinutes(1);
        return recorded;
    }

    /// <summary>The aggregate id every event carries, read from its stored payload.</summary>
    private static string IdOf(string dataJson, string property) =>
        JsonDocument.Parse(dataJson).RootElement.GetProperty(property).GetString()!;
}
