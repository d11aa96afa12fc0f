namespace GrpcBank.Domain.Tests;

/// <summary>Which codes open an account or move money: ISO 4217 codes in circulation, exactly as ISO spells them.</summary>
public sealed class CurrencySpecs
{
    // From across the alphabet, so that no stretch of the list can go missing unnoticed.
    [Theory]
    [InlineData("AED")]
    [InlineData("BZD")]
    [InlineData("CHF")]
    [InlineData("GBP")]
    [InlineData("JPY")]
    [InlineData("MXN")]
    [InlineData("NZD")]
    [InlineData("SEK")]
    [InlineData("USD")]
    [InlineData("XCG")]
    [InlineData("ZAR")]
    [InlineData("ZWG")]
    public void GivenACodeInCirculation_ThenItIsKnown(string code) => Assert.True(Currency.IsKnown(code));

    // Lower case, a name, no code, a code for no currency, and codes withdrawn (HRK: 2023; ZWL: replaced by ZWG).
    [Theory]
    [InlineData("eur")]
    [InlineData("EURO")]
    [InlineData("")]
    [InlineData("XXX")]
    [InlineData("HRK")]
    [InlineData("ZWL")]
    public void GivenAnythingElse_ThenItIsUnknown(string code) => Assert.False(Currency.IsKnown(code));
}
