using Xunit;

namespace GrpcBank.Testing;

/// <summary>
/// One RabbitMQ broker per test run, as an xunit assembly fixture (<c>[assembly: AssemblyFixture(typeof(RabbitMqBroker))]</c>),
/// shared by the test classes; each takes its own exchange (<see cref="NewExchange"/>), so they never see each other's
/// messages. Uses <c>GRPCBANK_TEST_RABBITMQ</c> (an amqp:// URL) if set; else starts a <see cref="RabbitMqNode"/> from
/// the local binaries and stops it at the end; else tests that ask for it are skipped, saying why. A test that must
/// stop or restart a broker takes a <see cref="RabbitMqNode"/> of its own: this one is never stopped under the others.
/// </summary>
public sealed class RabbitMqBroker : IAsyncLifetime
{
    public const string EnvironmentVariable = "GRPCBANK_TEST_RABBITMQ";

    private RabbitMqNode? node;
    private string? url;
    private string? skipReason;
    private string? startFailure;

    public async ValueTask InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } configured)
        {
            url = configured;
            return;
        }
        if (RabbitMqNode.MissingReason is { } missing)
        {
            skipReason = $"{missing}, and {EnvironmentVariable} is not set";
            Console.Error.WriteLine(skipReason);
            return;
        }
        try
        {
            node = await RabbitMqNode.CreateAsync();
            url = node.Url;
        }
        catch (Exception e)
        {
            // The binaries are here, so this is a failure to report, not a reason to skip.
            startFailure = $"Could not start a throwaway RabbitMQ node: {e.Message}";
            Console.Error.WriteLine(startFailure);
        }
    }

    /// <summary>The broker's amqp:// URL. Skips the calling test if there is no broker.</summary>
    public string Url
    {
        get
        {
            if (skipReason is not null) Assert.Skip(skipReason);
            if (startFailure is not null) throw new InvalidOperationException(startFailure);
            return url!;
        }
    }

    /// <summary>An exchange name no other test uses (the bus declares it on first publish).</summary>
    public static string NewExchange() => $"grpcbank.test.{Guid.NewGuid():N}";

    public async ValueTask DisposeAsync()
    {
        if (node is not null) await node.DisposeAsync();
    }
}
