using Grpc.Core;
using Grpc.Health.V1;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Restarts keep every acknowledged command, and the read side catches up from the outbox.</summary>
public sealed class DurabilitySpecs
{
    [Fact]
    public async Task ARestart_KeepsAllData_AndTheVersionsContinue()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        var id = NewId();
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Mary Jackson", CurrencyCode = "EUR" });
        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1_234, CurrencyCode = "EUR" });

        await host.RestartAsync();
        var withdrawn = await host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 34, CurrencyCode = "EUR" });

        Assert.Equal((3, 1_200), (withdrawn.Version, withdrawn.BalanceMinor));
        var got = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = withdrawn.Position });
        Assert.Equal(1_200, got.Account.BalanceMinor);
    }

    [Fact]
    public async Task WhatTheRelayHasNotDelivered_IsDeliveredFromTheOutboxAfterARestart()
    {
        await using var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        var id = NewId();
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Dorothy Vaughan", CurrencyCode = "GBP" });
        var deposited = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 999, CurrencyCode = "GBP" });
        await NotYetFresh(() => host.Query.GetAccountAsync(
            new GetAccountRequest { AccountId = id, MinPosition = deposited.Position }, deadline: DateTime.UtcNow.AddSeconds(1)).ResponseAsync);

        await host.RestartAsync(("Relay:Enabled", "true"));
        var got = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = deposited.Position });

        Assert.Equal(999, got.Account.BalanceMinor);
        Assert.Equal(2, got.Account.Version);
    }

    [Fact]
    public async Task ALostReadStore_IsRebuiltFromTheEventStore()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        var bank = new Bank(host);
        var customer = await bank.OpenAsync(deposit: 5_000);
        var merchant = await bank.OpenAsync();
        var placed = await bank.Orders.PlaceOrderAsync(new Contracts.Orders.V1.PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 1_500, CurrencyCode = "EUR",
        });
        await bank.Orders.FulfillOrderAsync(new Contracts.Orders.V1.FulfillOrderRequest { OrderId = placed.OrderId });

        await host.RestartAsync(() =>
        {
            foreach (var file in Directory.GetFiles(host.DataDirectory, "read.db*")) File.Delete(file);
        });

        Assert.Equal(3_500, (await bank.AccountAsync(customer, minPosition: 1)).BalanceMinor);
        Assert.Equal(1_500, (await bank.AccountAsync(merchant)).BalanceMinor);
        Assert.Equal(Contracts.Query.V1.OrderStatus.Paid, (await bank.SettledOrderAsync(placed.OrderId)).Status);
    }

    [Fact]
    public async Task TheHealthServiceReportsServing()
    {
        await using var host = await BankHost.StartEmbeddedAsync();

        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }
}
