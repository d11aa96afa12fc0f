using GrpcBank.Application.Relay;

namespace GrpcBank.Application.Tests.Relay;

public sealed class WakeUpSpecs
{
    [Fact]
    public async Task AWaitNobodySignals_EndsFalse_AfterItsTimeout()
    {
        var wakeUp = new WakeUp();
        var waited = System.Diagnostics.Stopwatch.StartNew();

        Assert.False(await wakeUp.WaitAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None));
        Assert.True(waited.Elapsed >= TimeSpan.FromMilliseconds(45), $"ended after {waited.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task AWaitThatTimesOut_ThrowsNoException_OnTheWay()
    {
        // The relay's paced cycles end this way many times a second; an exception each time is work for nothing.
        var wakeUp = new WakeUp();
        var thrown = 0;
        var mine = new AsyncLocal<bool> { Value = true };
        EventHandler<System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs> count = (_, e) =>
        {
            if (mine.Value && e.Exception is TimeoutException) Interlocked.Increment(ref thrown);
        };
        AppDomain.CurrentDomain.FirstChanceException += count;
        try
        {
            for (var i = 0; i < 3; i++) Assert.False(await wakeUp.WaitAsync(TimeSpan.FromMilliseconds(10), CancellationToken.None));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= count;
        }

        Assert.Equal(0, thrown);
    }

    [Fact]
    public async Task ASignalDuringTheWait_EndsItTrue()
    {
        var wakeUp = new WakeUp();

        var waiting = wakeUp.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        wakeUp.Signal();

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ASignalSentSinceTheGenerationTheWaiterRead_EndsItTrue_AtOnce()
    {
        var wakeUp = new WakeUp();
        var seen = wakeUp.Generation;
        wakeUp.Signal();

        Assert.True(await wakeUp.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None, seen).WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ACancelledWait_ThrowsOperationCanceled_RatherThanEndingFalse()
    {
        var wakeUp = new WakeUp();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wakeUp.WaitAsync(TimeSpan.FromSeconds(30), cancel.Token));
    }
}
