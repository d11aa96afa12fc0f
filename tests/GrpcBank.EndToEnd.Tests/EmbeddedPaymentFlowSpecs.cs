namespace GrpcBank.EndToEnd.Tests;

/// <summary>The payment flows on the embedded SQLite stores.</summary>
public sealed class EmbeddedPaymentFlowSpecs : PaymentFlowSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}
