using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>TLS as the README configures it: a certificate on a Kestrel HTTPS endpoint, HTTP/2 over TLS.</summary>
public sealed class TlsSpecs
{
    [Fact]
    public async Task WithACertificateConfigured_TheServerSpeaksGrpcOverTls()
    {
        var certificate = Path.Combine(Path.GetTempPath(), "grpcbank-tests", $"{Guid.NewGuid():N}.pfx");
        Directory.CreateDirectory(Path.GetDirectoryName(certificate)!);
        using (var key = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
            await File.WriteAllBytesAsync(certificate, selfSigned.Export(X509ContentType.Pfx, "test-password"), TestContext.Current.CancellationToken);
        }

        await using var host = await BankHost.StartEmbeddedAsync(
            ("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:0"),
            ("Kestrel:Endpoints:Https:Certificate:Path", certificate),
            ("Kestrel:Endpoints:Https:Certificate:Password", "test-password"));
        // The test trusts its own throwaway certificate; a real client trusts the CA that issued the server's.
        using var channel = GrpcChannel.ForAddress(host.GrpcUrl, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } },
        });

        var opened = await new AccountService.AccountServiceClient(channel).OpenAccountAsync(
            new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" });

        Assert.StartsWith("https://", host.GrpcUrl);
        Assert.Equal(1, opened.Version);
    }
}
