using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Testing;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// kill -9 of the server process under write load: every acknowledged deposit survives exactly once; a deposit whose
/// answer was lost is there at most once, and retrying it with its request_id makes it there exactly once.
/// </summary>
public sealed class KillUnderLoadSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task Embedded_KilledUnderWriteLoad_KeepsEveryAcknowledgedDepositExactlyOnce() =>
        await KilledUnderWriteLoadAsync(("Storage:DataDirectory", TempDirectory()));

    [Fact]
    public async Task Postgres_KilledUnderWriteLoad_KeepsEveryAcknowledgedDepositExactlyOnce() =>
        await KilledUnderWriteLoadAsync(("Storage:DataDirectory", TempDirectory()), ("ConnectionStrings:Postgres", await postgres.CreateDatabaseAsync()));

    private static async Task KilledUnderWriteLoadAsync(params (string Key, string Value)[] settings)
    {
        await using var server = await ServerProcess.StartAsync(settings);
        var load = await DepositLoad.OpenAccountsAsync(server.Channel, 4);
        using var stop = new CancellationTokenSource();
        await KillAfterAsync(server, () => load.Acknowledged.Count, stop, load.RunAsync(server.Channel, writers: 6, stop.Token));
        var acknowledged = load.Acknowledged.ToDictionary();
        var unacknowledged = load.Unacknowledged.ToList();

        await server.RestartAsync();
        var stored = await load.StoredAsync(server.Channel);
        foreach (var (requestId, reply) in acknowledged)
            Assert.True(stored.TryGetValue(requestId, out var versions) && versions.SequenceEqual([reply.Version]),
                $"acknowledged {requestId} at version {reply.Version}; stored at [{string.Join(", ", stored.GetValueOrDefault(requestId) ?? [])}]");
        var committedUnanswered = unacknowledged.Count(r => stored.ContainsKey(r.RequestId));
        foreach (var request in unacknowledged)
            Assert.True(stored.GetValueOrDefault(request.RequestId) is null or { Count: 1 }, $"{request.RequestId} is stored more than once");

        // Retrying what was acknowledged answers the same and appends nothing.
        var accounts = new AccountService.AccountServiceClient(server.Channel);
        var head = await ReadSide.HeadAsync(server.Channel);
        foreach (var (requestId, reply) in acknowledged)
        {
            var again = await accounts.DepositMoneyAsync(load.Request(requestId));
            Assert.Equal((reply.Version, reply.Position, reply.BalanceMinor), (again.Version, again.Position, again.BalanceMinor));
        }
        Assert.Equal(head, await ReadSide.HeadAsync(server.Channel));

        // Retrying what was not acknowledged leaves each exactly once.
        foreach (var request in unacknowledged) await accounts.DepositMoneyAsync(request);
        stored = await load.StoredAsync(server.Channel);
        foreach (var request in acknowledged.Keys.Concat(unacknowledged.Select(r => r.RequestId)))
            Assert.Single(stored[request]);
        Assert.Equal(acknowledged.Count + unacknowledged.Count, stored.Count);

        await ReadSide.AssertEqualsReplayAsync(server.Channel, load.Accounts);
        TestContext.Current.SendDiagnosticMessage(
            $"{acknowledged.Count} acknowledged, {unacknowledged.Count} in flight at the kill ({committedUnanswered} of them had committed)");
    }

    /// <summary>
    /// Kills the server with SIGKILL once the load has 150 acknowledged commands (or after 15 s), lets the writers find it
    /// gone and stop, and requires that at least <see cref="LeastAcknowledged"/> were acknowledged.
    /// </summary>
    internal static async Task KillAfterAsync(ServerProcess server, Func<int> acknowledged, CancellationTokenSource stop, Task writing)
    {
        var until = DateTime.UtcNow.AddSeconds(15);
        while (acknowledged() < 150 && DateTime.UtcNow < until) await Task.Delay(20);
        server.Kill();
        await Task.Delay(200);
        stop.Cancel();
        await writing.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(acknowledged() >= LeastAcknowledged, $"only {acknowledged()} commands were acknowledged before the kill:\n{server.Log}");
    }

    /// <summary>Fewer acknowledged commands than this, and a spec of what survives a stop has too little to judge.</summary>
    internal const int LeastAcknowledged = 50;

    public static string TempDirectory() => Path.Combine(Path.GetTempPath(), "grpcbank-faults", Guid.NewGuid().ToString("N"));
}
