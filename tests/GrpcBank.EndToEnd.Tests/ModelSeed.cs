namespace GrpcBank.EndToEnd.Tests;

/// <summary>The seed of a differential model spec's random run: GRPCBANK_MODEL_SEED when set (to run a printed seed again), else a new one.</summary>
public static class ModelSeed
{
    public static int FromEnvironmentOrNew() =>
        int.TryParse(Environment.GetEnvironmentVariable("GRPCBANK_MODEL_SEED"), out var seed) ? seed : Random.Shared.Next();

    public static void Print(int seed) =>
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed} (GRPCBANK_MODEL_SEED={seed} runs it again)");
}
