namespace GrpcBank.Ctl.Tests;

/// <summary>One server seeded once (bankctl seed --seed 7) for the specs that only read.</summary>
public sealed class SeededBank : IAsyncLifetime
{
    public const int Seed = 7;

    public BankHost Host { get; private set; } = null!;

    public string SeedOutput { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        Host = await BankHost.StartEmbeddedAsync();
        var seeded = await Ctl.RunAsync(Host, "seed", "--accounts", "10", "--orders", "12", "--seed", Seed.ToString());
        Assert.True(seeded.ExitCode == 0, seeded.Stderr);
        SeedOutput = seeded.Stdout;
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}
