using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Errors;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Customers' text at the edge, through a real gRPC client: what ids, currency codes, names and references may hold,
/// how long they may be (UTF-16 code units, as the proto comments say), and that what is taken is kept as sent.
/// </summary>
public abstract class TextSpecs : BankSpecs
{
    private AccountService.AccountServiceClient Accounts => Host.Accounts;

    private async Task<string> OwnerNameAsync(string accountId, long position) =>
        (await Host.Query.GetAccountAsync(new GetAccountRequest { AccountId = accountId, MinPosition = position })).Account.OwnerName;

    /// <summary>Only the upper-case ASCII code is a currency: look-alikes are UNKNOWN_CURRENCY, never taken nor INTERNAL.</summary>
    [Theory]
    [InlineData("\u00DCSD")] // ÜSD
    [InlineData("\uFF35\uFF33\uFF24")] // full-width ＵＳＤ
    [InlineData("\u0130SD")] // İSD, which upper-cases from "isd" in Turkish
    [InlineData("usd")]
    [InlineData("US\u0000")]
    [InlineData("USD ")]
    [InlineData("\u200BUSD")]
    [InlineData("\u0045UR\u0301")] // EUR with a combining acute
    public async Task ACurrencyCodeThatOnlyLooksLikeOne_IsUnknownCurrency(string code)
    {
        await InvalidFor("UNKNOWN_CURRENCY", "currency_code", () => Accounts.OpenAccountAsync(new() { OwnerName = "Ada", CurrencyCode = code }).ResponseAsync);
        var id = await Bank.OpenAsync(deposit: 100, currency: "USD");
        await InvalidFor("UNKNOWN_CURRENCY", "currency_code", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = code }).ResponseAsync);
    }

    /// <summary>Ids are ASCII letters, digits, '-', '_' and '.': a letter with a diacritic, a full-width or non-Latin digit, white space are refused naming the id.</summary>
    [Theory]
    [InlineData("zo\u00EB")]
    [InlineData("\uFF41")] // full-width a
    [InlineData("\u0661\u0662")] // Arabic-Indic digits
    [InlineData("a b")]
    [InlineData("a\u00A0b")]
    [InlineData(" ab")]
    [InlineData("ab\n")]
    [InlineData("a\u200Bb")]
    [InlineData("\U0001F600")]
    public async Task AnIdBeyondAsciiLettersDigitsAndDashUnderscoreDot_IsInvalidArgument_NamingIt(string id)
    {
        var account = await Bank.OpenAsync(deposit: 100);
        var ttl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMinutes(5));

        await Invalid(() => Accounts.OpenAccountAsync(new() { AccountId = id, OwnerName = "Ada", CurrencyCode = "EUR" }).ResponseAsync, "account_id");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "account_id");
        await Invalid(() => Accounts.PlaceHoldAsync(new() { AccountId = account, HoldId = id, AmountMinor = 1, CurrencyCode = "EUR", Ttl = ttl }).ResponseAsync, "hold_id");
        await Invalid(() => Bank.Payments.TransferMoneyAsync(new() { PaymentId = id, FromAccountId = account, ToAccountId = "other", AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "payment_id");
        await Invalid(() => Bank.Orders.PlaceOrderAsync(new() { OrderId = id, CustomerAccountId = account, MerchantAccountId = "other", AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "order_id");
        await Invalid(() => Host.Query.GetAccountAsync(new() { AccountId = id }).ResponseAsync, "account_id");
    }

    /// <summary>A name is kept as sent: composed or decomposed, with emoji or RTL marks, it reads back in the same code points.</summary>
    [Theory]
    [InlineData("Zo\u00EB Kravitz")]
    [InlineData("Zoe\u0308 Kravitz")]
    [InlineData("\u05D3\u05D5\u05D3 \u200F(David)\u200F")]
    [InlineData("Ada \U0001F600 Lovelace")]
    [InlineData("\U00020BB7\u7530 \u592A\u90CE")]
    public async Task AnOwnerName_IsKeptAsSent(string name)
    {
        var opened = await Accounts.OpenAccountAsync(new() { OwnerName = name, CurrencyCode = "EUR" });

        Assert.Equal(name, await OwnerNameAsync(opened.AccountId, opened.Position));
    }

    /// <summary>Limits count UTF-16 code units: an emoji outside the BMP takes two of a name's 200.</summary>
    [Fact]
    public async Task TextLimits_CountUtf16CodeUnits()
    {
        var emoji100 = string.Concat(Enumerable.Repeat("\U0001F600", FieldErrors.MaxNameLength / 2));
        var opened = await Accounts.OpenAccountAsync(new() { OwnerName = emoji100, CurrencyCode = "EUR" });
        Assert.Equal(emoji100, await OwnerNameAsync(opened.AccountId, opened.Position));

        await Invalid(() => Accounts.OpenAccountAsync(new() { OwnerName = emoji100 + "a", CurrencyCode = "EUR" }).ResponseAsync, "owner_name");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = opened.AccountId, AmountMinor = 1, CurrencyCode = "EUR", Reference = string.Concat(Enumerable.Repeat("\u00E9", FieldErrors.MaxTextLength)) + "\U0001F600" }).ResponseAsync, "reference");
    }

    /// <summary>A name with nothing visible in it (white space, zero-width and direction marks, a byte-order mark) is no name.</summary>
    [Theory]
    [InlineData("\u200B")]
    [InlineData("\u200E\u200F")]
    [InlineData(" \uFEFF ")]
    [InlineData("\u2060\u3000")]
    public async Task AnOwnerNameWithNothingVisible_IsOwnerNameRequired(string name)
    {
        await InvalidFor("OWNER_NAME_REQUIRED", "owner_name", () => Accounts.OpenAccountAsync(new() { OwnerName = name, CurrencyCode = "EUR" }).ResponseAsync);
    }

    /// <summary>Text fields are one line: a line or paragraph separator is refused as a control character is.</summary>
    [Theory]
    [InlineData("Ada\u2028Lovelace")]
    [InlineData("Ada\u2029Lovelace")]
    [InlineData("Ada\u0085Lovelace")]
    [InlineData("Ada\rLovelace")]
    public async Task ALineBreakInText_IsInvalidArgument_NamingTheField(string text)
    {
        var id = await Bank.OpenAsync();
        await Invalid(() => Accounts.OpenAccountAsync(new() { OwnerName = text, CurrencyCode = "EUR" }).ResponseAsync, "owner_name");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", Reference = text }).ResponseAsync, "reference");
    }
}
