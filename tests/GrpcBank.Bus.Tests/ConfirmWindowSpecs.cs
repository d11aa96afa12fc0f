using GrpcBank.Bus.RabbitMq;

namespace GrpcBank.Bus.Tests;

/// <summary>What a batch waiting for its confirms hears when the broker refuses some of it.</summary>
public sealed class ConfirmWindowSpecs
{
    [Theory]
    [InlineData(1UL, 1UL, false, 0UL, "message 1")]
    [InlineData(1UL, 1UL, true, 0UL, "message 1")]
    [InlineData(1UL, 5UL, true, 2UL, "messages 3 to 5")]
    [InlineData(1UL, 4UL, false, 2UL, "message 4")]
    public async Task ANack_FailsTheWaitingBatch_NamingTheMessagesItRefused(ulong first, ulong nacked, bool multiple, ulong ackedThrough, string named)
    {
        var window = new ConfirmWindow();
        var batch = window.Expect(first, 5);
        if (ackedThrough > 0) window.Ack(ackedThrough, multiple: true);
        window.Nack(nacked, multiple);

        var refused = await Assert.ThrowsAsync<BusUnavailableException>(() => batch);
        Assert.Equal($"the broker refused (nacked) {named}", refused.Message);
    }
}
