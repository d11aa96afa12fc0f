namespace GrpcBank.Clients.Tests;

/// <summary>
/// One real server process for the clients' specs (<see cref="ServerProcess"/>), with its own data directory and one
/// API key with every role. Disposing kills it and removes the data.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private readonly string dataDirectory = Directory.CreateTempSubdirectory("grpcbank-clients-").FullName;
    private ServerProcess? server;

    public string ApiKey { get; } = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();

    private ServerProcess Server => server ?? throw new InvalidOperationException("not started");

    /// <summary>host:port, as the sample clients take it.</summary>
    public string Address => Server.Address;

    public string Url => Server.Url;

    /// <summary>What the server printed so far, for failure messages.</summary>
    public string Log => Server.Log;

    public async ValueTask InitializeAsync() =>
        server = await ServerProcess.StartAsync(
            ("Storage:DataDirectory", dataDirectory), ("Auth:ApiKeys:0:Key", ApiKey),
            ("Auth:ApiKeys:0:Roles", "teller,auditor,admin"), ("Auth:ApiKeys:0:Name", "clients-tests"));

    public async ValueTask DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
        try
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: it is under the temp folder.
        }
    }
}
