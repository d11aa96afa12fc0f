using Microsoft.Extensions.Logging;

namespace GrpcBank.EndToEnd.Tests;

// The end-to-end specs in embedded mode: SQLite event store and read store in a fresh data directory.

public sealed class EmbeddedAccountServiceSpecs : AccountServiceSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

public sealed class EmbeddedPaymentFlowSpecs : PaymentFlowSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

public sealed class EmbeddedQuerySpecs : QuerySpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

public sealed class EmbeddedHistorySpecs : HistorySpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(builder => builder.Logging.AddProvider(Logs));
}

public sealed class EmbeddedProcessRecoverySpecs : ProcessRecoverySpecs
{
    protected override Task<BankHost> StartHostAsync(params (string Key, string Value)[] settings) => BankHost.StartEmbeddedAsync(settings);
}

public sealed class EmbeddedAdminSpecs : AdminSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(builder => builder.Logging.AddProvider(Logs));

    /// <summary>The read-store files: read.db, or the read-{stamp}.db of a rebuild (not their -wal and -shm files).</summary>
    protected override Task<IReadOnlyList<string>> ReadStoreGenerationsAsync() =>
        Task.FromResult<IReadOnlyList<string>>([.. Directory.GetFiles(Host.DataDirectory, "read*.db").Select(Path.GetFileName).Order()!]);
}

public sealed class EmbeddedHistoryUpgradeSpecs : HistoryUpgradeSpecs
{
    protected override Task<BankHost> StartHostAsync(params (string Key, string Value)[] settings) => BankHost.StartEmbeddedAsync(settings);
}

public sealed class EmbeddedBatchSpecs : BatchSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

public sealed class EmbeddedHoldSpecs : HoldSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);
}

public sealed class EmbeddedOrderHoldSpecs : OrderHoldSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);
}

public sealed class EmbeddedReadSideModelSpecs : ReadSideModelSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);
}

public sealed class EmbeddedTextSpecs : TextSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}
