namespace GrpcBank.EndToEnd.Tests;

/// <summary>The query specs on the embedded SQLite stores.</summary>
public sealed class EmbeddedQuerySpecs : QuerySpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}
