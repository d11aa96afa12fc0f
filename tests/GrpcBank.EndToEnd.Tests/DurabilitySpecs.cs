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
    public async Task TheHealthServiceReportsServing()
    {
        await using var host = await BankHost.StartEmbeddedAsync();

        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }
}
