using System.Security.Cryptography.X509Certificates;
using Elastic.Clients.Elasticsearch;
using Elastic.Transport;

namespace GrpcBank.Elasticsearch;

/// <summary>
/// How to reach a node. Elasticsearch 9 starts with TLS and authentication on: give an API key (the "encoded" value
/// <c>POST /_security/api_key</c> answers) or a user name and password, and trust the node's self-signed CA either by
/// its SHA-256 fingerprint (the node prints it at first start) or by the CA certificate file (<c>http_ca.crt</c>).
/// </summary>
public sealed record ElasticsearchConnection(Uri Url)
{
    public string? ApiKey { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>Hex, with or without colons.</summary>
    public string? CertificateFingerprint { get; init; }

    /// <summary>A PEM or DER file of the CA that signed the node's HTTP certificate.</summary>
    public string? CaCertificatePath { get; init; }

    /// <summary>The client's settings; refuses contradictory or half-given credentials rather than guess.</summary>
    public ElasticsearchClientSettings ClientSettings()
    {
        if (Given(ApiKey) && (Given(Username) || Given(Password)))
            throw new ArgumentException("Elasticsearch: give either ApiKey or Username and Password, not both");
        if (Given(Username) != Given(Password))
            throw new ArgumentException("Elasticsearch: Username and Password go together");
        if (Given(CertificateFingerprint) && Given(CaCertificatePath))
            throw new ArgumentException("Elasticsearch: give either CertificateFingerprint or CaCertificatePath, not both");

        var settings = new ElasticsearchClientSettings(Url);
        if (Given(ApiKey)) settings.Authentication(new ApiKey(ApiKey!));
        else if (Given(Username)) settings.Authentication(new BasicAuthentication(Username!, Password!));
        if (Given(CertificateFingerprint)) settings.CertificateFingerprint(CertificateFingerprint!);
        else if (Given(CaCertificatePath))
            settings.ServerCertificateValidationCallback(CertificateValidations.AuthorityIsRoot(X509CertificateLoader.LoadCertificateFromFile(CaCertificatePath!)));
        return settings;
    }

    private static bool Given(string? value) => !string.IsNullOrWhiteSpace(value);
}
