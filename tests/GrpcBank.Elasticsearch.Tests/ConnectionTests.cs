using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Elastic.Transport;

namespace GrpcBank.Elasticsearch.Tests;

/// <summary>Elasticsearch 9's defaults: TLS with a self-signed CA, and authentication.</summary>
public sealed class ConnectionTests
{
    private static readonly Uri Node = new("https://es.test:9200");

    private static string Authorization(ElasticsearchConnection connection)
    {
        var header = ((IRequestConfiguration)connection.ClientSettings()).Authentication
            ?? throw new Xunit.Sdk.XunitException("no credentials are sent");
        Assert.True(header.TryGetAuthorizationParameters(out var parameters));
        return $"{header.AuthScheme} {parameters}";
    }

    [Fact]
    public void GivenAnApiKey_WhenConnecting_ThenEveryRequestCarriesIt()
    {
        Assert.Equal("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            Authorization(new ElasticsearchConnection(Node) { ApiKey = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==" }));
    }

    [Fact]
    public void GivenAUserAndPassword_WhenConnecting_ThenEveryRequestCarriesBasicCredentials()
    {
        Assert.Equal("Basic " + Convert.ToBase64String("grpcbank:s3cret"u8.ToArray()),
            Authorization(new ElasticsearchConnection(Node) { Username = "grpcbank", Password = "s3cret" }));
    }

    [Fact]
    public void GivenTheCasFingerprint_WhenConnecting_ThenTheClientPinsIt()
    {
        const string fingerprint = "A5:2F:1B:0E:6C:44:D1:92:8B:7F:30:C6:E2:19:4D:AA:03:57:9E:B8:61:F4:2C:D0:7E:15:98:3A:CB:64:E7:02";
        var settings = (ITransportConfiguration)new ElasticsearchConnection(Node) { CertificateFingerprint = fingerprint }.ClientSettings();
        Assert.Equal(fingerprint, settings.CertificateFingerprint);
    }

    [Fact]
    public void GivenTheCaCertificate_WhenConnecting_ThenOnlyANodeCertificateThatCaSignedIsTrusted()
    {
        using var ca = Authority("CN=Elasticsearch security auto-configuration HTTP CA");
        using var stranger = Authority("CN=Someone else");
        using var node = Issued(ca, "CN=es.test");
        using var impostor = Issued(stranger, "CN=es.test");
        var path = Path.Combine(Path.GetTempPath(), $"http_ca-{Guid.NewGuid():N}.crt");
        File.WriteAllText(path, ca.ExportCertificatePem());
        try
        {
            var validate = ((ITransportConfiguration)new ElasticsearchConnection(Node) { CaCertificatePath = path }.ClientSettings())
                .ServerCertificateValidationCallback ?? throw new Xunit.Sdk.XunitException("no certificate validation configured");

            Assert.True(validate(this, node, new X509Chain(), SslPolicyErrors.RemoteCertificateChainErrors));
            Assert.False(validate(this, impostor, new X509Chain(), SslPolicyErrors.RemoteCertificateChainErrors));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("key", "user", "pass", null, null)]
    [InlineData(null, "user", null, null, null)]
    [InlineData(null, null, null, "AB:CD", "/etc/http_ca.crt")]
    public void GivenContradictoryOrHalfGivenSettings_WhenConnecting_ThenTheyAreRefused(string? apiKey, string? user, string? password, string? fingerprint, string? ca)
    {
        var connection = new ElasticsearchConnection(Node)
        {
            ApiKey = apiKey, Username = user, Password = password, CertificateFingerprint = fingerprint, CaCertificatePath = ca,
        };
        Assert.Throws<ArgumentException>(connection.ClientSettings);
    }

    private static X509Certificate2 Authority(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    private static X509Certificate2 Issued(X509Certificate2 authority, string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(30), [1, 2, 3, 4]);
        return issued.CopyWithPrivateKey(key);
    }
}
