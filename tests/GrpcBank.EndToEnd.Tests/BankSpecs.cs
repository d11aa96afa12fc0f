namespace GrpcBank.EndToEnd.Tests;

/// <summary>Specs that run against a fresh bank per test, on whichever store the derived class starts.</summary>
public abstract class BankSpecs : IAsyncLifetime
{
    protected BankHost Host { get; private set; } = null!;

    protected Bank Bank { get; private set; } = null!;

    protected abstract Task<BankHost> StartHostAsync();

    public async ValueTask InitializeAsync()
    {
        Host = await StartHostAsync();
        Bank = new Bank(Host);
    }

    public virtual async ValueTask DisposeAsync() => await Host.DisposeAsync();
}
