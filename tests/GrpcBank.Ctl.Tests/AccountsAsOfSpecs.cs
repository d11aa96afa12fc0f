using System.Text.Json;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl accounts as-of: time travel by version and by time.</summary>
public sealed class AccountsAsOfSpecs : IAsyncLifetime
{
    private BankHost host = null!;

    public async ValueTask InitializeAsync()
    {
        host = await BankHost.StartEmbeddedAsync();
        var accounts = new AccountService.AccountServiceClient(host.Channel);
        await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 50_000, CurrencyCode = "EUR" });
        await accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = "ada", AmountMinor = 20_000, CurrencyCode = "EUR" });
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 7_550, CurrencyCode = "EUR" });
        await accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = "ada", Reason = "audit" });
    }

    public ValueTask DisposeAsync() => host.DisposeAsync();

    [Fact]
    public async Task AsOfEveryVersion_IsTheBalanceAfterThatManyEvents()
    {
        var expected = new[] { (0L, "ACCOUNT_STATUS_ACTIVE"), (50_000, "ACCOUNT_STATUS_ACTIVE"), (30_000, "ACCOUNT_STATUS_ACTIVE"), (37_550, "ACCOUNT_STATUS_ACTIVE"), (37_550, "ACCOUNT_STATUS_FROZEN") };

        for (var version = 1; version <= expected.Length; version++)
        {
            var run = await Ctl.RunAsync(host, "--json", "accounts", "as-of", "ada", "--version", version.ToString());
            var json = JsonDocument.Parse(run.Stdout).RootElement;
            Assert.Equal(expected[version - 1], (long.Parse(json.GetProperty("balanceMinor").GetString()!), json.GetProperty("status").GetString()));
            Assert.Equal(version.ToString(), json.GetProperty("version").GetString());
        }
    }

    [Fact]
    public async Task AsOfAVersion_ForPeople_ShowsBalanceWithCurrency_StatusAndVersion()
    {
        var run = await Ctl.RunAsync(host, "accounts", "as-of", "ada", "--version", "4");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("account   ada (Ada Lovelace)", run.Stdout);
        Assert.Contains("balance   375.50 EUR", run.Stdout);
        Assert.Contains("status    active", run.Stdout);
        Assert.Contains("version   4", run.Stdout);
    }

    [Fact]
    public async Task AsOfTheTimeOfTheSecondEvent_IsTheStateAfterIt()
    {
        var events = (await new HistoryService.HistoryServiceClient(host.Channel).ReadStreamAsync(new ReadStreamRequest { StreamId = "account-ada" })).Events;
        var at = events[1].RecordedAt.ToDateTimeOffset().ToString("O");

        var run = await Ctl.RunAsync(host, "accounts", "as-of", "ada", "--time", at);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("balance   500.00 EUR", run.Stdout);
        Assert.Contains("version   2", run.Stdout);
    }
}
