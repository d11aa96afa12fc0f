using GrpcBank.Server.Security;
using Microsoft.Extensions.Configuration;
using GrpcBank.Server.Query;
using GrpcBank.Server.Hosting;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// A setting whose value cannot be what it names refuses to start, naming the setting, the value and the form it takes:
/// the configuration binder's own exception was an abort with a stack trace at start-up, or, for a setting first read by
/// a call (Subscriptions:MaxTotal), INTERNAL on every such call of a server that had started.
/// </summary>
public sealed class SettingSpecs
{
    private const string TimeSpanForm = "a time span (hh:mm:ss, e.g. 00:00:01 for one second)";
    private const string AtMostTheLongestWait = "is not " + TimeSpanForm + " of at most 49.17:02:47.2940000 (the longest wait .NET's timers take)";
    private const string FixedPortForm = "is not an http:// URL with a fixed port (e.g. http://127.0.0.1:9464)";

    [Theory]
    [InlineData("Relay:PollInterval", "1s", TimeSpanForm)]
    [InlineData("Relay:Enabled", "yes", "true or false")]
    [InlineData("Subscriptions:MaxTotal", "many", "a whole number")]
    [InlineData("Subscriptions:PollInterval", "250ms", TimeSpanForm)]
    [InlineData("Query:MaxWaitingReads", "1e3", "a whole number")]
    [InlineData("Auth:RequestsPerSecond", "99999999999", "a whole number")]
    [InlineData("Kestrel:Limits:Http2:KeepAlivePingDelay", "30s", TimeSpanForm)]
    public void AValueThatDoesNotConvert_RefusesToStart_NamingTheSettingTheValueAndItsForm(string key, string value, string form)
    {
        var e = Refused($"--{key}={value}");

        Assert.Equal($"{key} '{value}' is not {form}", e.Message);
    }

    [Theory]
    [InlineData("Relay:PollInterval", "00:00:00", "is not " + TimeSpanForm + " above 00:00:00")]
    [InlineData("Relay:PollInterval", "-00:00:00.001", "is not " + TimeSpanForm + " above 00:00:00")]
    [InlineData("Relay:PollInterval", "50.00:00:00", AtMostTheLongestWait)]
    [InlineData("Relay:BusyCycle", "50.00:00:00", AtMostTheLongestWait)]
    [InlineData("Relay:QuietCycle", "10675199.02:48:05.4775807", AtMostTheLongestWait)]
    [InlineData("Relay:BusyCycle", "-00:00:00.025", "is not " + TimeSpanForm + " of 00:00:00 or more")]
    [InlineData("Relay:QuietCycle", "-00:00:01", "is not " + TimeSpanForm + " of 00:00:00 or more")]
    [InlineData("Relay:BusyBatch", "0", "is not a whole number above 0")]
    [InlineData("EventStore:GroupCommit:MaxGroupsInFlight", "0", "is not a whole number above 0")]
    [InlineData("Subscriptions:PollInterval", "00:00:00", "is not " + TimeSpanForm + " above 00:00:00")]
    [InlineData("Query:ReadSidePollInterval", "-00:00:01", "is not " + TimeSpanForm + " above 00:00:00")]
    [InlineData("Query:ReadSidePollInterval", "49.17:02:47.295", AtMostTheLongestWait)]
    [InlineData("Subscriptions:PollInterval", "365.00:00:00", AtMostTheLongestWait)]
    [InlineData("Auth:RequestsPerSecond", "0", "is not a whole number above 0")]
    [InlineData("Auth:FailedAuthenticationsPerSecond", "0", "is not a whole number above 0")]
    [InlineData("Auth:FailedAuthenticationsPerSecond", "-5", "is not a whole number above 0")]
    [InlineData("Auth:FailedAuthenticationsPerSecond", "10000001", "is not a whole number of at most 10000000 (one failure back per 100 ns tick)")]
    [InlineData("Auth:FailedAuthenticationsPerSecond", "536870912", "is not a whole number of at most 10000000 (one failure back per 100 ns tick)")]
    [InlineData("Subscriptions:MaxPerCaller", "0", "is not a whole number above 0")]
    [InlineData("Subscriptions:MaxTotal", "-1", "is not a whole number above 0")]
    [InlineData("Query:MaxWaitingReads", "0", "is not a whole number above 0")]
    [InlineData("Kestrel:Limits:MaxConcurrentConnections", "-1", "is out of Kestrel's range: Value must be null or a positive number.")]
    [InlineData("Kestrel:Limits:KeepAliveTimeout", "-00:00:05", "is out of Kestrel's range: Value must be a positive TimeSpan.")]
    [InlineData("Kestrel:Limits:Http2:MaxStreamsPerConnection", "0", "is out of Kestrel's range: A value greater than zero is required.")]
    [InlineData("Metrics:Url", "not a url", FixedPortForm)]
    [InlineData("Metrics:Url", "127.0.0.1:9464", FixedPortForm)]
    [InlineData("JsonApi:Url", "http://127.0.0.1:0", FixedPortForm)]
    public void AValueOutOfItsRange_RefusesToStart_NamingTheSettingTheValueAndTheRange(string key, string value, string range)
    {
        // Each was taken as given: a zero interval polled in a tight loop, a negative one failed every wait (-1 ms: never
        // ended), as did one longer than Task.Delay and Task.WaitAsync take (TheLongestWait_…), a negative relay pause was
        // taken as no pause (what 0 says),
        // Auth:FailedAuthenticationsPerSecond=0 aborted start-up with a bare OverflowException, and above 10,000,000 made
        // a limiter that failed at the first look at a peer (AtTheHighestFailedAuthenticationRate_…),
        // Auth:RequestsPerSecond=0 started a server that answered every call INTERNAL, a subscription or waiting-read cap of
        // zero or less one that refused every SubscribeAll, or every read that had to wait for min_position,
        // RESOURCE_EXHAUSTED, and Kestrel, which checks its limits and parses its endpoints' URLs only as it starts,
        // aborted with an ArgumentOutOfRangeException or a FormatException and its stack trace. Port 0 (any free one)
        // started a server whose extra endpoint answered nothing, its requests being told apart by the configured port.
        var e = Refused($"--{key}={value}");

        Assert.Equal($"{key} '{value}' {range}", e.Message);
    }

    [Fact]
    public void AtTheHighestFailedAuthenticationRate_APeerIsLookedAtAndItsFailuresCounted()
    {
        // One above it, the peer's token bucket could not be made (a replenishment period of zero ticks; above
        // 536,870,911 also a burst past int.MaxValue): an ArgumentException at the first look at a peer, so with API keys
        // every keyed call failed. Refused at start instead (AValueOutOfItsRange_…).
        var limits = new RateLimits(new ConfigurationBuilder().AddInMemoryCollection(
            [KeyValuePair.Create("Auth:FailedAuthenticationsPerSecond", (string?)RateLimits.MaxFailuresPerSecond.ToString())]).Build());

        Assert.True(limits.MayAuthenticate("203.0.113.7"));
        limits.AuthenticationFailed("203.0.113.7");
        Assert.True(limits.MayAuthenticate("203.0.113.7"));
        Assert.Equal(TimeSpan.FromTicks(1), limits.FailureReplenished);
    }

    [Fact]
    public async Task TheLongestWait_IsOneTaskDelayAndWaitAsyncTake_AndAMillisecondMoreIsNot()
    {
        // The bound Setting.Wait holds poll intervals and pauses to: the runtime's, not one of this project's choosing.
        using var stop = new CancellationTokenSource();
        var delay = Task.Delay(Setting.LongestWait, stop.Token);
        var wait = new TaskCompletionSource().Task.WaitAsync(Setting.LongestWait, stop.Token);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => delay);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);

        var longer = Setting.LongestWait + TimeSpan.FromMilliseconds(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = Task.Delay(longer, CancellationToken.None); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = new TaskCompletionSource().Task.WaitAsync(longer, CancellationToken.None); });
    }

    [Theory]
    [InlineData("not-a-url")]
    [InlineData("127.0.0.1:5000")]
    [InlineData("http://127.0.0.1:5000;localhost:5001")]
    public void AListenAddressThatIsNotOne_RefusesToStart_NamingIt(string urls)
    {
        // Kestrel parses its addresses only as it starts: an abort with a bare FormatException ("Invalid url") and its stack trace.
        var e = Refused($"--urls={urls}");

        Assert.StartsWith("--urls (or ASPNETCORE_URLS) '", e.Message);
        Assert.Contains("is not a listen address such as http://127.0.0.1:5000", e.Message);
    }

    [Theory]
    [InlineData("Bank-Read")]
    [InlineData("read_store_of_the_bank_with_a_very_long_name")]
    public void AReadStoreSchemaThatCannotNameItsGenerations_RefusesToStart_NamingIt(string schema)
    {
        // Refused before any connection is tried: nothing listens on port 1.
        var e = Refused("--ConnectionStrings:Postgres=Host=127.0.0.1;Port=1", "--ReadStore:Kind=Postgres", $"--ReadStore:Postgres:Schema={schema}");

        Assert.StartsWith($"ReadStore:Postgres:Schema '{schema}' is not a plain lower-case identifier", e.Message);
    }

    [Theory]
    [InlineData("my bank")]
    [InlineData("urn:bank:{eu}")]
    public void ABusSourceThatIsNoUriReference_RefusesToStart_NamingIt(string source)
    {
        var e = Refused("--Bus:RabbitMq:Url=amqp://127.0.0.1:1/", $"--Bus:Source={source}");

        Assert.Equal($"Bus:Source must be a URI reference (e.g. 'grpcbank' or 'urn:bank:eu-1'), not '{source}'", e.Message);
    }

    [Theory]
    [InlineData("Elasticsearch:Url=127.0.0.1:9200", "Elasticsearch:Url must be an http:// or https:// URL (http://127.0.0.1:9200), not '127.0.0.1:9200'")]
    [InlineData("Elasticsearch:Url=not a url", "Elasticsearch:Url must be an http:// or https:// URL (http://127.0.0.1:9200), not 'not a url'")]
    [InlineData("Elasticsearch:ApiKey=k", "Elasticsearch: give either ApiKey or Username and Password, not both", "Elasticsearch:Username=u", "Elasticsearch:Password=p")]
    [InlineData("Elasticsearch:Username=u", "Elasticsearch: Username and Password go together")]
    [InlineData("Elasticsearch:CaCertificatePath=/no/such/http_ca.crt", "Elasticsearch:CaCertificatePath '/no/such/http_ca.crt' is not a readable CA certificate")]
    [InlineData("Elasticsearch:IndexPrefix=GrpcBank", "Elasticsearch:IndexPrefix 'GrpcBank' cannot start an index name: lower case")]
    [InlineData("Elasticsearch:IndexPrefix=bank/eu", "Elasticsearch:IndexPrefix 'bank/eu' cannot start an index name")]
    [InlineData("Elasticsearch:IndexPrefix=_bank", "Elasticsearch:IndexPrefix '_bank' cannot start an index name")]
    public void ElasticsearchSettingsThatCannotWork_RefuseToStart_NamingTheSetting(string setting, string message, params string[] more)
    {
        // Each aborted start-up with the bare exception and its stack trace (UriFormatException, ArgumentException,
        // OpenSslCryptographicException), or, for an index prefix Elasticsearch refuses, started a server whose read side
        // failed at the first index it created; nothing is contacted first: nothing listens on port 1.
        string[] url = setting.StartsWith("Elasticsearch:Url=") ? [] : ["--Elasticsearch:Url=https://127.0.0.1:1"];

        var e = Refused([.. url, $"--{setting}", .. more.Select(m => $"--{m}")]);

        Assert.StartsWith(message, e.Message);
    }

    [Theory]
    [InlineData("Bus:RabbitMq:Url", "http://bank:s3cret-pass@broker.internal:5672/", "http://…@broker.internal:5672/")]
    [InlineData("Bus:RabbitMq:Url", "rabbitmq://bank:s3cret-pass@broker.internal", "rabbitmq://…@broker.internal/")]
    [InlineData("Bus:RabbitMq:Url", "amqp//bank:s3cret-pass@broker.internal", "…@broker.internal")]
    [InlineData("Elasticsearch:Url", "ftp://elastic:s3cret-pass@search.internal:9200", "ftp://…@search.internal:9200/")]
    [InlineData("Elasticsearch:Url", "elastic:s3cret-pass@search.internal:9200", "…@search.internal:9200")]
    public void AUrlOfAnotherScheme_RefusesToStart_NamingItWithoutItsPassword(string setting, string url, string named)
    {
        var e = Refused($"--{setting}={url}");

        Assert.DoesNotContain("s3cret-pass", e.ToString());
        Assert.EndsWith($"not '{named}'", e.Message);
    }

    [Theory]
    [InlineData("alice", "alice", "second-secret-0123456789", "Auth:ApiKeys:1 and Auth:ApiKeys:0 are both named 'alice'")]
    [InlineData("key-1", null, "second-secret-0123456789", "Auth:ApiKeys:1 and Auth:ApiKeys:0 are both named 'key-1'")] // key 1's name without one
    [InlineData("alice", "bob", "first-secret-0123456789", "Auth:ApiKeys:1 has the same secret as Auth:ApiKeys:0")]
    public void TwoKeysWithOneNameOrOneSecret_RefuseToStart_NamingThem(string firstName, string? secondName, string secondKey, string message)
    {
        // A key's name is the principal in each event's metadata and the caller its rate and subscriptions are counted
        // for: two keys under one name could not be told apart, and one secret in two entries would have one entry's roles.
        string[] keys = ["--Auth:ApiKeys:0:Key=first-secret-0123456789", "--Auth:ApiKeys:0:Roles=teller", $"--Auth:ApiKeys:0:Name={firstName}",
            $"--Auth:ApiKeys:1:Key={secondKey}", "--Auth:ApiKeys:1:Roles=auditor", .. secondName is null ? [] : new[] { $"--Auth:ApiKeys:1:Name={secondName}" }];

        var e = Refused(keys);

        Assert.StartsWith(message, e.Message);
        Assert.DoesNotContain("secret-0123456789", e.ToString());
    }

    [Theory]
    [InlineData("tellr")]
    [InlineData("teller,5")] // a number: Enum.TryParse took it, and the key had a role that grants nothing
    [InlineData("1")] // auditor by its number, which no operator means
    public void ARoleThatIsNotOneByName_RefusesToStart_NamingIt(string roles)
    {
        var e = Refused("--Auth:ApiKeys:0:Key=first-secret-0123456789", $"--Auth:ApiKeys:0:Roles={roles}");

        Assert.StartsWith("Auth:ApiKeys:0:Roles: unknown role", e.Message);
    }

    [Theory]
    [InlineData("Mongo")]
    [InlineData("1")] // Postgres by its number: refused, if at all, as "ReadStore:Kind is Postgres", which was never written
    public void AReadStoreKindThatIsNotOneByName_RefusesToStart_NamingIt(string kind)
    {
        var e = Refused("--ConnectionStrings:Postgres=Host=127.0.0.1;Port=1", $"--ReadStore:Kind={kind}");

        Assert.Equal($"ReadStore:Kind '{kind}' is not one of Sqlite, Postgres, Elasticsearch.", e.Message);
    }

    [Theory]
    [InlineData("clé-secrète-0123456789")]
    [InlineData("secret-from-a-file-0123456789\n")]
    [InlineData("secret-with-a-space-at-its-end ")] // the header's value is trimmed: what arrives is another key
    public void AKeyNoHeaderCanCarry_RefusesToStart_NamingIt(string key)
    {
        var e = Refused($"--Auth:ApiKeys:0:Key={key}", "--Auth:ApiKeys:0:Roles=teller");

        Assert.StartsWith("Auth:ApiKeys:0:Key holds a character an HTTP header cannot carry", e.Message);
        Assert.DoesNotContain("secret", e.Message.Replace("Auth:ApiKeys:0:Key", ""));
    }

    [Fact]
    public void AKeyHashThatIsNotHex_RefusesToStart_NamingIt()
    {
        var e = Refused("--Auth:ApiKeys:0:KeyHash=" + new string('z', 64), "--Auth:ApiKeys:0:Roles=teller");

        Assert.StartsWith("Auth:ApiKeys:0:KeyHash is not 64 hexadecimal digits", e.Message);
    }

    [Fact]
    public void APageTokenKeyShorterThan32Characters_RefusesToStart_NamingIt()
    {
        // Refused with an InvalidOperationException: an abort with a stack trace, not the one-line refusal.
        var e = Refused("--Query:PageTokenKey=too-short-a-secret");

        Assert.Equal("Query:PageTokenKey is too short: use at least 32 random characters", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a key")]
    public void AKeptPageTokenKeyThatIsNotOne_RefusesToStart_NamingTheFile(string kept)
    {
        // An emptied file signed every page token with an empty key; an edited one aborted with a bare FormatException.
        var data = Directory.CreateTempSubdirectory("grpcbank-setting-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(data, PageTokenKey.FileName), kept);

            var e = Assert.Throws<StartupRefusedException>(() => BankServer.Build([$"--Storage:DataDirectory={data}"]));

            Assert.StartsWith($"The page-token key '{Path.Combine(data, PageTokenKey.FileName)}' is not 64 hexadecimal digits", e.Message);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>The refusal of a server built with these settings, on a data directory of its own that is removed after.</summary>
    [Theory]
    [InlineData("--OpenTelemetry:OtlpProtocol=http", "OpenTelemetry:OtlpProtocol must be grpc or http/protobuf, not 'http'")]
    [InlineData("--OpenTelemetry:OtlpProtocol=HTTP/JSON", "OpenTelemetry:OtlpProtocol must be grpc or http/protobuf, not 'HTTP/JSON'")]
    [InlineData("--OpenTelemetry:OtlpEndpoint=collector:4317", "OpenTelemetry:OtlpEndpoint must be an http:// or https:// URL (http://127.0.0.1:4317), not 'collector:4317'")]
    [InlineData("--OpenTelemetry:OtlpEndpoint=not a url", "OpenTelemetry:OtlpEndpoint must be an http:// or https:// URL (http://127.0.0.1:4317), not 'not a url'")]
    public void AnOtlpExportThatCannotWork_RefusesToStart_NamingTheSetting(string setting, string message)
    {
        // An unknown protocol fell back to gRPC, and a collector that takes only HTTP received nothing; an endpoint that
        // is not a URL aborted start-up with the bare UriFormatException. Nothing is contacted first.
        string[] endpoint = setting.Contains("OtlpEndpoint") ? [] : ["--OpenTelemetry:OtlpEndpoint=http://127.0.0.1:1"];

        var e = Refused([.. endpoint, setting]);

        Assert.Equal(message, e.Message);
    }

    private static StartupRefusedException Refused(params string[] settings)
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-setting-").FullName;
        try
        {
            return Assert.Throws<StartupRefusedException>(() => BankServer.Build([.. settings, $"--Storage:DataDirectory={data}"]));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
