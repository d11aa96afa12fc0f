using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Testing;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>The write side's answers against the rules the documents state.</summary>
public abstract class CommandModelSpecs : ClockedBankSpecs
{
    /// <summary>Found by this model: a negative limit was refused at the edge without the rule's reason, which a limit too large had.</summary>
    [Fact]
    public async Task AnOverdraftLimitOutOfRange_IsInvalidOverdraftLimit_NamingLimitMinor_BelowZeroAsAboveTheMost()
    {
        var account = await Bank.OpenAsync();
        foreach (var limit in new[] { -1, 10_000_000_000_001 })
            await Rpc.InvalidFor("INVALID_OVERDRAFT_LIMIT", "limit_minor",
                () => Host.Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = account, LimitMinor = limit }).ResponseAsync);
    }
}

public sealed class EmbeddedCommandModelSpecs : CommandModelSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);
}

public sealed class PostgresCommandModelSpecs(PostgresServer postgres) : CommandModelSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);
}
