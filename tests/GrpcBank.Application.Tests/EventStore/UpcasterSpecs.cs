using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Tests.EventStore;

/// <summary>Older stored shapes read as the current ones, through the one registry; current shapes round-trip as they are.</summary>
public sealed class UpcasterSpecs
{
    [Fact]
    public void AMovementStoredByTheSagaRelease_ReadsAsSettledBySaga()
    {
        var e = EventCodecs.Accounts.Decode("accounts.PaymentDebited.v1",
            """{"accountId":"ada","movement":{"paymentId":"t-1","orderId":"","amountMinor":1200,"currencyCode":"EUR"}}""");

        Assert.Equal(new AccountEvent.PaymentDebited("ada", new Movement("t-1", "", 1_200, "EUR"), Settlement.Saga), e);
    }

    [Fact]
    public void APaymentStoredByTheSagaRelease_ReadsAsSettledBySaga()
    {
        var e = EventCodecs.Payments.Decode("payments.PaymentInitiated.v1",
            """{"paymentId":"t-1","orderId":"","fromAccountId":"ada","toAccountId":"grace","amountMinor":1200,"currencyCode":"EUR","reference":"rent"}""");

        Assert.Equal(new PaymentEvent.PaymentInitiated("t-1", "", "ada", "grace", 1_200, "EUR", "rent", Settlement.Saga), e);
    }

    [Fact]
    public void TheCurrentShape_IsWrittenUnderItsV2Name_WithTheSettlementByName_AndReadBackAsItWas()
    {
        var e = new AccountEvent.RefundCredited("ada", new Movement("t-1", "o-1", 1_200, "EUR"), Settlement.Atomic);

        var (name, json) = EventCodecs.Accounts.Encode(e);

        Assert.Equal("accounts.RefundCredited.v2", name);
        Assert.Contains("\"settlement\":\"atomic\"", json);
        Assert.Equal(e, EventCodecs.Accounts.Decode(name, json));
    }

    [Fact]
    public void EveryUpcaster_ReadsANameNoLongerWritten_IntoOneItsCodecKnows()
    {
        var current = AccountEventTypes.ByName.Keys.Concat(PaymentEventTypes.ByName.Keys).ToHashSet();

        Assert.NotEmpty(Upcasters.All);
        Assert.All(Upcasters.All, u =>
        {
            Assert.DoesNotContain(u.From, current);
            Assert.Contains(u.To, current);
            Assert.True(EventCodecs.Accounts.Knows(u.From) || EventCodecs.Payments.Knows(u.From), u.From);
        });
        Assert.Equal(Upcasters.All.Count, Upcasters.All.Select(u => u.From).Distinct().Count());
    }

    [Fact]
    public void ASettlementStoredAsANumber_IsRefused_NotGuessed() =>
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => EventCodecs.Payments.Decode("payments.PaymentCompleted.v2",
            """{"paymentId":"t-1","orderId":"","settlement":1}"""));
}
