using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Tests.EventStore;

/// <summary>
/// The payment process skips events settled atomically without decoding them (<see cref="EventCodecs.SaysSettledAtomically"/>):
/// it must find the property as the codecs write it, and never where it is not.
/// </summary>
public sealed class SettledAtomicallySpecs
{
    private static readonly Movement Movement = new("p-1", "", 2_500, "EUR");

    public static TheoryData<object> EventsWithASettlement => new()
    {
        new PaymentEvent.PaymentInitiated("p-1", "", "ada", "grace", 2_500, "EUR", "rent", Settlement.Atomic),
        new PaymentEvent.PaymentCompleted("p-1", "", Settlement.Atomic),
        new AccountEvent.PaymentDebited("ada", Movement, Settlement.Atomic),
        new AccountEvent.RefundCredited("ada", Movement, Settlement.Atomic),
    };

    [Theory]
    [MemberData(nameof(EventsWithASettlement))]
    public void AnEventStoredSettledAtomically_SaysSo(object e) => Assert.True(EventCodecs.SaysSettledAtomically(Stored(e)));

    [Theory]
    [MemberData(nameof(EventsWithASettlement))]
    public void AnEventSettledAtomically_SaysSo_HoweverTheStoreSpacesItsJson(object e)
    {
        // PostgreSQL renders jsonb as {"key": value, ...}; indented JSON spaces it more still.
        var stored = Stored(e);
        var spaced = System.Text.Json.Nodes.JsonNode.Parse(stored.DataJson)!.ToJsonString(new() { WriteIndented = true });

        Assert.True(EventCodecs.SaysSettledAtomically(stored with { DataJson = spaced }));
    }

    [Theory]
    [MemberData(nameof(EventsWithASettlement))]
    public void TheSameEventSettledBySaga_DoesNot(object e) => Assert.False(EventCodecs.SaysSettledAtomically(Stored(BySaga(e))));

    [Fact]
    public void TheWordsInAClientsText_DoNotCount()
    {
        var quoted = new PaymentEvent.PaymentInitiated("p-1", "", "ada", "grace", 2_500, "EUR", """x","settlement":"atomic""", Settlement.Saga);
        var plain = quoted with { Reference = "settlement" };

        Assert.False(EventCodecs.SaysSettledAtomically(Stored(quoted)));
        Assert.False(EventCodecs.SaysSettledAtomically(Stored(plain)));
        Assert.True(EventCodecs.SaysSettledAtomically(Stored(plain with { Settlement = Settlement.Atomic })));
    }

    [Fact]
    public void AStoredV1Payment_HasNoSettlementProperty_AndIsDecoded()
    {
        // Saga payments written before atomic transfers: the upcaster adds their settlement on decoding.
        var v1 = new RecordedEvent(1, "payment-p-1", 1, Guid.CreateVersion7(), "payments.PaymentInitiated.v1",
            """{"paymentId":"p-1","orderId":"","fromAccountId":"ada","toAccountId":"grace","amountMinor":2500,"currencyCode":"EUR","reference":"rent"}""",
            "{}", DateTimeOffset.UnixEpoch);

        Assert.False(EventCodecs.SaysSettledAtomically(v1));
        Assert.Equal(Settlement.Saga, Assert.IsType<PaymentEvent.PaymentInitiated>(EventCodecs.Decode(v1)).Settlement);
    }

    private static RecordedEvent Stored(object e)
    {
        var (type, data) = e switch
        {
            PaymentEvent p => EventCodecs.Payments.Encode(p),
            AccountEvent a => EventCodecs.Accounts.Encode(a),
            _ => throw new ArgumentOutOfRangeException(nameof(e), e, "not an account or payment event"),
        };
        return new RecordedEvent(1, "stream-1", 1, Guid.CreateVersion7(), type, data, "{}", DateTimeOffset.UnixEpoch);
    }

    private static object BySaga(object e) => e switch
    {
        PaymentEvent.PaymentInitiated x => x with { Settlement = Settlement.Saga },
        PaymentEvent.PaymentCompleted x => x with { Settlement = Settlement.Saga },
        AccountEvent.PaymentDebited x => x with { Settlement = Settlement.Saga },
        AccountEvent.RefundCredited x => x with { Settlement = Settlement.Saga },
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "not a settled event"),
    };
}
