namespace GrpcBank.EndToEnd.Tests;

/// <summary>The AccountService specs on the embedded SQLite stores.</summary>
public sealed class EmbeddedAccountServiceSpecs : AccountServiceSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}
