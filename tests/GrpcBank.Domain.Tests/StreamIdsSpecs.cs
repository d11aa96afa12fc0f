using LanguageExt;

namespace GrpcBank.Domain.Tests;

/// <summary>
/// Stream ids are "{kind}-{aggregate id}": the read stores and the history service read the kind and the aggregate
/// back from stored ids, so every id made reads back as made, and a string that names no stream reads as none.
/// </summary>
public sealed class StreamIdsSpecs
{
    [Theory]
    [InlineData(StreamKind.Account, "ada")]
    [InlineData(StreamKind.Order, "ord-0001")]
    [InlineData(StreamKind.Payment, "order-ord-0001")]
    public void GivenAStreamIdMadeForAKind_ThenItReadsBackAsThatKindAndAggregate(StreamKind kind, string aggregateId) =>
        Assert.Equal(Prelude.Some((kind, aggregateId)), StreamIds.Parse(StreamIds.Of(kind, aggregateId)));

    // A prefix alone names no aggregate; other prefixes, or none, name no kind.
    [Theory]
    [InlineData("account-")]
    [InlineData("payment-")]
    [InlineData("ledger-0001")]
    [InlineData("accounts-0001")]
    [InlineData("")]
    public void GivenAStringThatNamesNoStream_ThenItParsesAsNone(string streamId) =>
        Assert.True(StreamIds.Parse(streamId).IsNone);
}
