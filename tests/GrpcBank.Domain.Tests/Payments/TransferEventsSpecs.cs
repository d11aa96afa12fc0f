using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Tests.Payments;

/// <summary>
/// A decision over several streams is empty only when no stream has an event: the handler acknowledges an empty one
/// without writing, so a decision that calls one stream empty while it has events would be acknowledged and lost.
/// </summary>
public sealed class TransferEventsSpecs
{
    private static readonly Movement Movement = new("pay-0001", "", 4_000, "EUR");

    public static TheoryData<string> Streams => new() { "payment", "payer", "payee", "order" };

    [Fact]
    public void GivenNoEventOnAnyStream_ThenItIsEmpty() => Assert.True(TransferEvents.None.IsEmpty);

    [Theory]
    [MemberData(nameof(Streams))]
    public void GivenEventsOnOneStreamAlone_ThenItIsNotEmpty(string stream) =>
        Assert.False(OnlyOn(stream).IsEmpty);

    private static TransferEvents OnlyOn(string stream) => stream switch
    {
        "payment" => TransferEvents.None with { Payment = Seq1<PaymentEvent>(new PaymentEvent.PaymentCompleted("pay-0001", "", Settlement.Atomic)) },
        "payer" => TransferEvents.None with { Payer = Seq1<AccountEvent>(new AccountEvent.PaymentDebited("acc-payer", Movement, Settlement.Atomic)) },
        "payee" => TransferEvents.None with { Payee = Seq1<AccountEvent>(new AccountEvent.PaymentCredited("acc-payee", Movement, Settlement.Atomic)) },
        _ => TransferEvents.None with { Order = Seq1<OrderEvent>(new OrderEvent.OrderPaid("ord-0001", "pay-0001")) },
    };
}
