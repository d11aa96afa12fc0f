using System.Diagnostics;
using Grpc.Core;
using GrpcBank.Testing;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// SIGTERM (a service manager's stop, a rolling deploy) under write load: the server exits 0 promptly without an error
/// logged, every call in flight is answered OK or UNAVAILABLE (retryable), and every acknowledged deposit is there after
/// a restart on the same storage.
/// </summary>
public sealed class SigtermUnderLoadSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task Embedded_StoppedUnderWriteLoad_ExitsCleanly_AndKeepsEveryAcknowledgedDeposit() =>
        await StoppedUnderWriteLoadAsync();

    [Fact]
    public async Task Postgres_StoppedUnderWriteLoad_ExitsCleanly_AndKeepsEveryAcknowledgedDeposit() =>
        await StoppedUnderWriteLoadAsync(("ConnectionStrings:Postgres", await postgres.CreateDatabaseAsync()));

    private static async Task StoppedUnderWriteLoadAsync(params (string Key, string Value)[] settings)
    {
        var data = KillUnderLoadSpecs.TempDirectory();
        try
        {
            await using var server = await ServerProcess.StartAsync([("Storage:DataDirectory", data), .. settings]);
            await StoppedUnderWriteLoadAsync(server);
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }

    private static async Task StoppedUnderWriteLoadAsync(ServerProcess server)
    {
        var load = await DepositLoad.OpenAccountsAsync(server.Channel, 4);
        using var stop = new CancellationTokenSource();
        var writing = load.RunAsync(server.Channel, writers: 6, stop.Token);
        var until = DateTime.UtcNow.AddSeconds(15);
        while (load.Acknowledged.Count < 150 && DateTime.UtcNow < until) await Task.Delay(20, TestContext.Current.CancellationToken);

        var stopping = Stopwatch.StartNew();
        var exitCode = await server.TerminateAsync(TimeSpan.FromSeconds(60));
        stopping.Stop();
        await Task.Delay(300, TestContext.Current.CancellationToken); // the writers meet the stopped server
        await stop.CancelAsync();
        await writing.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        var acknowledged = load.Acknowledged.ToDictionary();

        // Every acknowledged deposit is checked below: with none acknowledged there would be nothing to check.
        Assert.True(acknowledged.Count >= KillUnderLoadSpecs.LeastAcknowledged,
            $"only {acknowledged.Count} deposits were acknowledged before the stop (failures: {string.Join(", ", load.Failures)}):\n{server.Log}");
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{server.Log}");
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s:\n{server.Log}");
        Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("crit:", server.Log, StringComparison.Ordinal);
        Assert.All(load.Failures.Keys, code => Assert.Equal(StatusCode.Unavailable, code));

        await server.RestartAsync();
        var stored = await load.StoredAsync(server.Channel);
        foreach (var (requestId, reply) in acknowledged)
            Assert.True(stored.TryGetValue(requestId, out var versions) && versions.SequenceEqual([reply.Version]),
                $"acknowledged {requestId} at version {reply.Version}; stored at [{string.Join(", ", stored.GetValueOrDefault(requestId) ?? [])}]");
        TestContext.Current.SendDiagnosticMessage(
            $"{acknowledged.Count} acknowledged; failures: {string.Join(", ", load.Failures.Select(f => $"{f.Key} {f.Value}"))}; stop took {stopping.Elapsed.TotalMilliseconds:0} ms");
    }
}
