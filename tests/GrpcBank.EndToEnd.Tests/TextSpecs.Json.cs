using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using GrpcBank.Testing;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Text over the JSON API's URLs: a path or query-string value is percent-encoded UTF-8, and bytes that are not UTF-8
/// are no text, refused naming the field as a JSON body's half surrogate is; they are never searched for as something else.
/// </summary>
public sealed class JsonTextSpecs : IAsyncLifetime
{
    private BankHost host = null!;
    private HttpClient http = null!;

    public async ValueTask InitializeAsync()
    {
        var url = $"http://127.0.0.1:{FreePorts.Next()}";
        host = await BankHost.StartEmbeddedAsync(("JsonApi:Url", url));
        http = new HttpClient { BaseAddress = new Uri(url) };
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await host.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(string pathAndQuery)
    {
        using var response = await http.GetAsync(pathAndQuery);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static IEnumerable<string> FieldsNamed(JsonNode error) =>
        error["details"]!.AsArray().Where(d => d!["fieldViolations"] is not null)
            .SelectMany(d => d!["fieldViolations"]!.AsArray().Select(v => v!["field"]!.GetValue<string>()));

    [Theory]
    [InlineData("/v1/accounts?query=%ED%A0%80", "query")] // a surrogate, encoded as if it were a character
    [InlineData("/v1/accounts?query=Zo%FF", "query")]
    [InlineData("/v1/accounts?query=%C3", "query")]
    [InlineData("/v1/orders?customerAccountId=%FF", "customer_account_id")]
    public async Task AQueryStringValueThatIsNotUtf8_IsInvalidArgument_NamingIt(string pathAndQuery, string field)
    {
        var (status, body) = await GetAsync(pathAndQuery);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(FieldsNamed(body!), f => f == field || f == ToCamel(field));
    }

    [Fact]
    public async Task AnIdInThePath_ThatIsNotAscii_IsInvalidArgument_NamingIt()
    {
        var (status, body) = await GetAsync("/v1/accounts/zo%C3%AB");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("account_id", FieldsNamed(body!));
    }

    [Fact]
    public async Task ANameSentInPercentEncodedUtf8_IsFound()
    {
        using var opened = await http.PostAsJsonAsync("/v1/accounts", new { ownerName = "Zo\u00EB Kravitz", currencyCode = "EUR" });
        var position = (await opened.Content.ReadFromJsonAsync<JsonNode>())!["position"]!.ToString();

        var (status, body) = await GetAsync($"/v1/accounts?query=Zoe%CC%88&minPosition={position}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Zo\u00EB Kravitz", body!["accounts"]![0]!["ownerName"]!.GetValue<string>());
    }

    private static string ToCamel(string field) =>
        string.Concat(field.Split('_').Select((w, i) => i == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));
}
