using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// JSON over HTTP/1.1 (JsonApi:Url) with a plain HttpClient, as an integrator without gRPC would call it: the same
/// services behind the same keys, roles, validation and error reasons as over gRPC.
/// </summary>
public sealed class JsonApiSpecs
{
    private const string TellerKey = "json-teller-key-0123456789";
    private const string AuditorKey = "json-auditor-key-0123456789";

    private sealed record JsonBank(BankHost Host, HttpClient Http) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Host.DisposeAsync();
        }
    }

    private static async Task<JsonBank> StartAsync()
    {
        var url = $"http://127.0.0.1:{FreePorts.Next()}";
        var host = await BankHost.StartEmbeddedAsync(("JsonApi:Url", url),
            ("Auth:ApiKeys:0:Name", "desk"), ("Auth:ApiKeys:0:Key", TellerKey),
            ("Auth:ApiKeys:0:Roles:0", "teller"), ("Auth:ApiKeys:0:Roles:1", "auditor"),
            ("Auth:ApiKeys:1:Name", "audit"), ("Auth:ApiKeys:1:Key", AuditorKey), ("Auth:ApiKeys:1:Roles", "auditor"));
        var http = new HttpClient { BaseAddress = new Uri(url) }; // HTTP/1.1, the client's default
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TellerKey);
        return new JsonBank(host, http);
    }

    private static Task<(HttpStatusCode Status, JsonNode Body)> CallAsync(HttpClient http, HttpMethod method, string path, object? body = null) =>
        SendAsync(http, new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) });

    /// <summary>A body as written, for what a serializer would not write (a malformed value, a key twice).</summary>
    private static Task<(HttpStatusCode Status, JsonNode Body)> CallWithTextAsync(HttpClient http, HttpMethod method, string path, string json) =>
        SendAsync(http, new HttpRequestMessage(method, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") });

    private static async Task<(HttpStatusCode Status, JsonNode Body)> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        using (request)
        using (var response = await http.SendAsync(request))
        {
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, JsonNode.Parse(text.Length == 0 ? "null" : text)!);
        }
    }

    private static JsonNode Detail(JsonNode error, string type) =>
        Assert.Single(error["details"]!.AsArray(), d => d!["@type"]!.GetValue<string>() == $"type.googleapis.com/google.rpc.{type}")!;

    /// <returns>The new account's id, and the position of its opening (for a read that must see it: min_position).</returns>
    private static async Task<(string Id, string Position)> OpenAsync(HttpClient http)
    {
        var (status, opened) = await CallAsync(http, HttpMethod.Post, "/v1/accounts", new { ownerName = "Ada Lovelace", currencyCode = "EUR" });
        Assert.Equal(HttpStatusCode.OK, status);
        return (opened["accountId"]!.GetValue<string>(), opened["position"]!.GetValue<string>());
    }

    [Fact]
    public async Task WithoutKeys_ARequestAddressedToAnotherName_IsPermissionDenied_AndNothingRuns_WhileLoopbackNamesAreServed()
    {
        // A web page the operator opens can point a name of its own at 127.0.0.1 (DNS rebinding) and then call the JSON
        // API as its own origin: no key stands in its way on a server without keys. Its requests carry that name as Host.
        var url = $"http://127.0.0.1:{FreePorts.Next()}";
        await using var host = await BankHost.StartEmbeddedAsync(("JsonApi:Url", url));
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var port = new Uri(url).Port;
        var open = new { ownerName = "Ada Lovelace", currencyCode = "EUR" };
        var (_, opened) = await CallAsync(http, HttpMethod.Post, "/v1/accounts", open);
        var id = opened["accountId"]!.GetValue<string>();

        async Task<(HttpStatusCode Status, JsonNode Body)> AsAsync(string hostHeader, HttpMethod method, string path, object? body = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            request.Headers.Host = hostHeader;
            return await SendAsync(http, request);
        }
        var deposit = await AsAsync($"rebound.example:{port}", HttpMethod.Post, $"/v1/accounts/{id}:deposit", new { amountMinor = "100", currencyCode = "EUR" });
        var read = await AsAsync($"rebound.example:{port}", HttpMethod.Get, $"/v1/accounts/{id}");
        var byLocalhost = await AsAsync($"localhost:{port}", HttpMethod.Post, $"/v1/accounts/{id}:deposit", new { amountMinor = "7", currencyCode = "EUR" });
        var byIpv6Loopback = await AsAsync($"[::1]:{port}", HttpMethod.Get, $"/v1/accounts/{id}?minPosition={byLocalhost.Body["position"]}");

        Assert.Equal((HttpStatusCode.Forbidden, (int?)7), (deposit.Status, deposit.Body["code"]?.GetValue<int>()));
        Assert.Contains("rebound.example", deposit.Body["message"]!.GetValue<string>());
        Assert.Equal((HttpStatusCode.Forbidden, (int?)7), (read.Status, read.Body["code"]?.GetValue<int>()));
        Assert.Equal((HttpStatusCode.OK, "7"), (byLocalhost.Status, byLocalhost.Body["balanceMinor"]!.GetValue<string>()));
        Assert.Equal((HttpStatusCode.OK, "7"), (byIpv6Loopback.Status, byIpv6Loopback.Body["account"]!["balanceMinor"]!.GetValue<string>()));
    }

    [Fact]
    public async Task RequestsRefusedForTheirForm_CountAgainstTheKeysRate_AndBeyondItAreResourceExhausted()
    {
        // Auth:RequestsPerSecond holds a key to its rate whatever its requests hold: one refused before the transcoder
        // reads it (a wrong field) is a call all the same, and a key past its rate hears RESOURCE_EXHAUSTED.
        var url = $"http://127.0.0.1:{FreePorts.Next()}";
        await using var host = await BankHost.StartEmbeddedAsync(("JsonApi:Url", url), ("Auth:RequestsPerSecond", "5"),
            ("Auth:ApiKeys:0:Name", "desk"), ("Auth:ApiKeys:0:Key", TellerKey), ("Auth:ApiKeys:0:Roles", "teller"));
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TellerKey);

        // The key's bucket holds 5 calls and fills again as time passes (a call's worth each 200 ms), so how many of a
        // fixed number of calls get through depends on how fast they go: 8 calls expected 5 through and 3 refused, and on
        // a loaded machine, 8 calls in over 600 ms, 6 got through. So the calls go on until the first is refused, and
        // those let through before it must be the bucket's 5 and at most what it can have taken in meanwhile.
        var statuses = new List<HttpStatusCode>();
        var took = System.Diagnostics.Stopwatch.StartNew();
        HttpResponseMessage answer;
        while (true)
        {
            answer = await http.PostAsync("/v1/accounts/nobody:deposit",
                new StringContent("""{"amountMinor":"1","currencyCode":"EUR","requestID":"x"}""", System.Text.Encoding.UTF8, "application/json"));
            statuses.Add(answer.StatusCode);
            if (answer.StatusCode != HttpStatusCode.BadRequest || statuses.Count == 100) break;
            answer.Dispose();
        }
        using var last = answer;
        var refilled = SecuritySpecs.Refilled(5, took.Elapsed);
        TestContext.Current.TestOutputHelper?.WriteLine($"{statuses.Count} calls in {took.ElapsedMilliseconds} ms: {string.Join(", ", statuses)}");

        Assert.Equal(HttpStatusCode.TooManyRequests, last.StatusCode);
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.BadRequest), 5, 5 + refilled);
        // And says why, and when to come back: Retry-After for HTTP clients and proxies, RetryInfo among the details.
        var body = JsonNode.Parse(await last.Content.ReadAsStringAsync())!;
        Assert.Equal((TimeSpan.FromSeconds(1), "RATE_LIMITED"), (last.Headers.RetryAfter?.Delta, Detail(body, "ErrorInfo")["reason"]!.GetValue<string>()));
        Assert.EndsWith("s", Detail(body, "RetryInfo")["retryDelay"]!.GetValue<string>());
        // A well-formed call over the rate is refused by the services' admission, after the transcoder read it: the same.
        HttpResponseMessage wellFormed;
        for (var calls = 1; ; calls++)
        {
            wellFormed = await http.PostAsync("/v1/accounts/nobody:deposit",
                new StringContent("""{"amountMinor":"1","currencyCode":"EUR"}""", System.Text.Encoding.UTF8, "application/json"));
            if (wellFormed.StatusCode != HttpStatusCode.NotFound || calls == 100) break; // the bucket fills as they go
            wellFormed.Dispose();
        }
        using var _ = wellFormed;
        var refused = JsonNode.Parse(await wellFormed.Content.ReadAsStringAsync())!;
        Assert.Equal((HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(1), "RATE_LIMITED"),
            (wellFormed.StatusCode, wellFormed.Headers.RetryAfter?.Delta, Detail(refused, "ErrorInfo")["reason"]!.GetValue<string>()));
    }

    [Fact]
    public async Task OpenDepositAndItsRetry_ThenAQuery_OverPlainJson()
    {
        await using var bank = await StartAsync();
        var (host, http) = (bank.Host, bank.Http);
        var (id, _) = await OpenAsync(http);

        var deposit = new { amountMinor = "2500", currencyCode = "EUR", reference = "invoice 7", requestId = "dep-" + id };
        var (status, first) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit", deposit);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("2500", first["balanceMinor"]!.GetValue<string>()); // int64 as a string, as proto3 JSON says
        var (retryStatus, retry) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit", deposit);
        Assert.Equal(HttpStatusCode.OK, retryStatus);
        Assert.Equal(first.ToJsonString(), retry.ToJsonString()); // the original answer; nothing deposited twice

        var position = first["position"]!.GetValue<string>();
        var (queried, account) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?minPosition={position}");
        Assert.Equal(HttpStatusCode.OK, queried);
        Assert.Equal("2500", account["account"]!["balanceMinor"]!.GetValue<string>());
        Assert.Equal("ACCOUNT_STATUS_ACTIVE", account["account"]!["status"]!.GetValue<string>());
        var (searched, found) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts?query=lovelace&minPosition={position}");
        Assert.Equal(HttpStatusCode.OK, searched);
        Assert.Contains(found["accounts"]!.AsArray(), a => a!["accountId"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task ARejection_IsAGoogleRpcStatus_WithTheSameReasonAsOverGrpc()
    {
        await using var bank = await StartAsync();
        var (host, http) = (bank.Host, bank.Http);
        var (id, _) = await OpenAsync(http);

        var (status, error) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:withdraw", new { amountMinor = "100", currencyCode = "EUR" });
        Assert.Equal(HttpStatusCode.BadRequest, status); // FAILED_PRECONDITION maps to 400 in HTTP
        Assert.Equal(9, error["code"]!.GetValue<int>());
        var info = Assert.Single(error["details"]!.AsArray(), d => d!["@type"]!.GetValue<string>() == "type.googleapis.com/google.rpc.ErrorInfo");
        Assert.Equal("INSUFFICIENT_FUNDS", info!["reason"]!.GetValue<string>());

        var (invalid, bad) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit", new { amountMinor = "-5", currencyCode = "EUR" });
        Assert.Equal(HttpStatusCode.BadRequest, invalid);
        Assert.Equal(3, bad["code"]!.GetValue<int>()); // INVALID_ARGUMENT naming the proto field
        var violation = bad["details"]![0]!["fieldViolations"]![0]!;
        Assert.Equal("amount_minor", violation["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task AFieldBreakingADomainRule_IsInvalidArgumentNamingIt_WithTheRulesReason_AsOverGrpc()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var ((id, _), (other, _)) = (await OpenAsync(http), await OpenAsync(http));

        (string Path, object Body, string Field, string Reason)[] cases =
        [
            ($"/v1/accounts/{id}/holds", new { amountMinor = "1", currencyCode = "EUR", ttl = "0s" }, "ttl", "HOLD_EXPIRY_NOT_IN_FUTURE"),
            ($"/v1/accounts/{id}/holds", new { amountMinor = "1", currencyCode = "EUR", ttl = "2764801s" }, "ttl", "HOLD_EXPIRY_TOO_FAR"),
            ("/v1/orders", new { customerAccountId = id, merchantAccountId = other, amountMinor = "1", currencyCode = "EUR", authorizationTtl = "-1s" },
                "authorization_ttl", "HOLD_EXPIRY_NOT_IN_FUTURE"),
            ("/v1/orders", new { customerAccountId = id, merchantAccountId = id, amountMinor = "1", currencyCode = "EUR" }, "merchant_account_id", "SAME_ACCOUNT"),
            ("/v1/payments", new { fromAccountId = id, toAccountId = id, amountMinor = "1", currencyCode = "EUR" }, "to_account_id", "SAME_ACCOUNT"),
            ("/v1/payments", new { paymentId = "order-x", fromAccountId = id, toAccountId = other, amountMinor = "1", currencyCode = "EUR" },
                "payment_id", "PAYMENT_ID_RESERVED"),
            ("/v1/batches:execute", new { atomic = true, commands = new[] { new { transfer = new { fromAccountId = id, toAccountId = id, amountMinor = "1", currencyCode = "EUR" } } } },
                "commands[0].transfer.to_account_id", "SAME_ACCOUNT"),
        ];
        foreach (var (path, body, field, reason) in cases)
        {
            var (status, error) = await CallAsync(http, HttpMethod.Post, path, body);
            var violation = Assert.Single(Detail(error, "BadRequest")["fieldViolations"]!.AsArray())!;
            Assert.Equal((HttpStatusCode.BadRequest, 3, field, reason, reason),
                (status, error["code"]!.GetValue<int>(), violation["field"]!.GetValue<string>(), violation["reason"]?.GetValue<string>(),
                    Detail(error, "ErrorInfo")["reason"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task AFieldTheMessageDoesNotHave_InABodyOrAQuery_IsInvalidArgumentNamingIt_AndNothingIsWritten()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, _) = await OpenAsync(http);

        // A misspelt idempotency key must not run the command without one.
        var (status, error) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit",
            new { amountMinor = "2500", currencyCode = "EUR", requestID = "dep-1" });
        Assert.Equal((HttpStatusCode.BadRequest, 3), (status, error["code"]!.GetValue<int>()));
        var violation = error["details"]![0]!["fieldViolations"]![0]!;
        Assert.Equal(("requestID", "is not a field of bank.accounts.v1.DepositMoneyRequest"),
            (violation["field"]!.GetValue<string>(), violation["description"]!.GetValue<string>()));
        var (nested, batchError) = await CallAsync(http, HttpMethod.Post, "/v1/batches:execute",
            new { commands = new object[] { new { deposit = new { accountId = id, amountMinor = "5", currencyCode = "EUR", referenc = "x" } } } });
        Assert.Equal(HttpStatusCode.BadRequest, nested);
        Assert.Equal("commands[0].deposit.referenc", batchError["details"]![0]!["fieldViolations"]![0]!["field"]!.GetValue<string>());

        // Both names a field has are known: its JSON name and its proto name.
        var (ok, deposited) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit",
            new { amount_minor = "700", currencyCode = "EUR", request_id = "dep-2" });
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal(("2", "700"), (deposited["version"]!.GetValue<string>(), deposited["balanceMinor"]!.GetValue<string>()));

        // A read's query string too: a misspelt minPosition would answer at once, perhaps without the caller's write.
        var position = deposited["position"]!.GetValue<string>();
        var (query, queryError) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?minPositon={position}");
        Assert.Equal((HttpStatusCode.BadRequest, "minPositon"), (query, queryError["details"]![0]!["fieldViolations"]![0]!["field"]!.GetValue<string>()));
        var (read, account) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?min_position={position}");
        Assert.Equal((HttpStatusCode.OK, "700"), (read, account["account"]!["balanceMinor"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AValueItsFieldCannotTake_InABodyOrAQuery_IsInvalidArgumentNamingTheFieldAsSent_AndNothingIsWritten()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, openedAt) = await OpenAsync(http);
        var deposit = $"/v1/accounts/{id}:deposit";
        string Deposit(string amount) => $$"""{"accountId":"{{id}}","amountMinor":{{amount}},"currencyCode":"EUR"}""";
        const string notANumber = "\"abc\"";
        var cases = new (HttpMethod Method, string Path, string? Body, string Field)[]
        {
            (HttpMethod.Post, deposit, """{"amountMinor":"abc","currencyCode":"EUR"}""", "amountMinor"),
            (HttpMethod.Post, deposit, """{"amountMinor":"99999999999999999999","currencyCode":"EUR"}""", "amountMinor"),
            (HttpMethod.Post, deposit, """{"amountMinor":"5","currencyCode":978}""", "currencyCode"),
            (HttpMethod.Post, "/v1/batches:execute", $$"""{"commands":[{"deposit":{{Deposit(notANumber)}}}]}""", "commands[0].deposit.amountMinor"),
            // The transcoder would append both lists: every command would run twice.
            (HttpMethod.Post, "/v1/batches:execute", $$"""{"commands":[{"deposit":{{Deposit("5")}}}],"commands":[{"deposit":{{Deposit("5")}}}]}""", "commands"),
            (HttpMethod.Post, "/v1/batches:execute", """{"commands":[{"deposit":{}}],"atomic":"yes"}""", "atomic"),
            (HttpMethod.Post, $"/v1/accounts/{id}/holds", """{"amountMinor":"5","currencyCode":"EUR","ttl":"abc"}""", "ttl"),
            (HttpMethod.Post, $"/v1/accounts/{id}/holds", """{"amountMinor":"5","currencyCode":"EUR","ttl":"315576000000s"}""", "ttl"),
            (HttpMethod.Post, $"/v1/accounts/{id}/holds", """{"amountMinor":"5","currencyCode":"EUR","ttl":"60s","expiresAt":"2030-01-01T00:00:00Z"}""", "expiresAt"),
            // JSON, but not text: a \u escape of half a surrogate pair, which no string can hold (an empty 500 before).
            (HttpMethod.Post, deposit, """{"amountMinor":"5","currencyCode":"EUR","requestId":"r-\ud800"}""", "requestId"),
            (HttpMethod.Post, deposit, """{"amountMinor":"\udc005","currencyCode":"EUR"}""", "amountMinor"),
            (HttpMethod.Post, deposit, """{"amountMinor":"5","currencyCode":"EUR","\ud800x":1}""", "\\ud800x"),
            (HttpMethod.Post, "/v1/batches:execute", """{"commands":[{"deposit":{"currencyCode":"\udbff"}}]}""", "commands[0].deposit.currencyCode"),
            (HttpMethod.Get, "/v1/accounts?status=NOPE", null, "status"),
            (HttpMethod.Get, "/v1/accounts?status=7", null, "status"),
            (HttpMethod.Get, "/v1/accounts?pageSize=1&pageSize=2", null, "pageSize"),
            (HttpMethod.Get, $"/v1/accounts/{id}?minPosition=abc", null, "minPosition"),
            (HttpMethod.Get, $"/v1/accounts/{id}/transactions?startTime=garbage", null, "startTime"),
        };
        foreach (var (method, path, body, field) in cases)
        {
            var (status, error) = body is null ? await CallAsync(http, method, path) : await CallWithTextAsync(http, method, path, body);
            Assert.Equal((path, body, HttpStatusCode.BadRequest, 3), (path, body, status, error["code"]!.GetValue<int>()));
            var violation = Assert.Single(Detail(error, "BadRequest")["fieldViolations"]!.AsArray())!;
            Assert.Equal((path, body, field), (path, body, violation["field"]!.GetValue<string>()));
        }

        // A negative Duration with a fraction is one the transcoder cannot read: the refusal says which form it takes.
        var (_, negative) = await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}/holds", """{"amountMinor":"5","currencyCode":"EUR","ttl":"-1.5s"}""");
        Assert.EndsWith("a negative one in whole seconds (-1s, not -1.5s)",
            Detail(negative, "BadRequest")["fieldViolations"]![0]!["description"]!.GetValue<string>());
        // An undefined enum number is refused as gRPC refuses it: naming the contract's values.
        var (_, undefined) = await CallAsync(http, HttpMethod.Get, "/v1/accounts?status=7");
        Assert.Equal("must be one of ACCOUNT_STATUS_UNSPECIFIED, ACCOUNT_STATUS_ACTIVE, ACCOUNT_STATUS_FROZEN, ACCOUNT_STATUS_CLOSED",
            Detail(undefined, "BadRequest")["fieldViolations"]![0]!["description"]!.GetValue<string>());
        // A body that is not one JSON object has no field to name: the ErrorInfo gRPC gives an undecodable message.
        foreach (var body in new[] { "[1]", """{"amountMinor":""", "" })
        {
            var (status, error) = await CallWithTextAsync(http, HttpMethod.Post, deposit, body);
            Assert.Equal((body, HttpStatusCode.BadRequest, 3), (body, status, error["code"]!.GetValue<int>()));
            Assert.Equal("MALFORMED_REQUEST", Detail(error, "ErrorInfo")["reason"]!.GetValue<string>());
        }
        // JSON between systems is UTF-8 (RFC 8259): a body labelled otherwise is refused for its label, whatever its bytes
        // (the transcoder decoded it as labelled, failed naming nothing, and wrote its error in UTF-16).
        foreach (var encoding in new[] { System.Text.Encoding.Unicode, System.Text.Encoding.Latin1 })
        {
            var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(Deposit("5")));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = encoding.WebName };
            var (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, deposit) { Content = content });
            Assert.Equal((encoding.WebName, HttpStatusCode.BadRequest, 3), (encoding.WebName, status, error["code"]!.GetValue<int>()));
            Assert.Contains($"charset {encoding.WebName}", Detail(error, "ErrorInfo")["metadata"]!["problem"]!.GetValue<string>());
        }

        var (_, account) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?minPosition={openedAt}");
        Assert.Equal("1", account["account"]!["version"]!.GetValue<string>()); // only the opening
    }

    [Fact]
    public async Task TheFormsProto3JsonAllows_AreStillRead()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, _) = await OpenAsync(http);

        // int64 as a number or a string, null for "not set".
        Assert.Equal(HttpStatusCode.OK, (await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit",
            """{"amountMinor":700,"currencyCode":"EUR","reference":null}""")).Status);
        var (deposited, reply) = await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit",
            """{"amount_minor":"300","currencyCode":"EUR","expectedVersion":null}""");
        Assert.Equal((HttpStatusCode.OK, "1000"), (deposited, reply["balanceMinor"]!.GetValue<string>()));
        // A Duration's string after a null member of its oneof.
        var (held, hold) = await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}/holds",
            """{"amountMinor":"5","currencyCode":"EUR","expiresAt":null,"ttl":"60.5s"}""");
        Assert.Equal((HttpStatusCode.OK, "995"), (held, hold["availableMinor"]!.GetValue<string>()));
        var position = hold["position"]!.GetValue<string>();
        // In a query string: an enum by name or number, a Timestamp's string (with an offset), int32 and int64.
        foreach (var query in new[] { $"/v1/accounts?status=ACCOUNT_STATUS_ACTIVE&minPosition={position}", $"/v1/accounts?status=1&pageSize=5&min_position={position}" })
        {
            var (status, found) = await CallAsync(http, HttpMethod.Get, query);
            Assert.Equal((query, HttpStatusCode.OK), (query, status));
            Assert.Contains(found["accounts"]!.AsArray(), a => a!["accountId"]!.GetValue<string>() == id);
        }
        var (listed, transactions) = await CallAsync(http, HttpMethod.Get,
            $"/v1/accounts/{id}/transactions?startTime=2020-01-01T00:00:00Z&endTime=2100-01-01T10:30:00.5%2B01:00&minPosition={position}");
        Assert.Equal((HttpStatusCode.OK, 2), (listed, transactions["transactions"]!.AsArray().Count));
    }

    [Fact]
    public async Task TheWiderFormsProto3JsonAsksAParserToRead_AreRead_AndNumbersOfNoSuchForm_AreRefusedNamingTheField()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, _) = await OpenAsync(http);

        // An integer in exponent notation, quoted or not, or with a zero fraction; null for a oneof's member after the one set.
        var balance = 0;
        foreach (var (amount, minor) in new[] { ("1e3", 1000), ("\"2e2\"", 200), ("30.0", 30), ("\"4.0e0\"", 4) })
        {
            var (status, reply) = await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit",
                $$"""{"amountMinor":{{amount}},"currencyCode":"EUR"}""");
            balance += minor;
            Assert.Equal((amount, HttpStatusCode.OK, balance.ToString()), (amount, status, reply["balanceMinor"]?.GetValue<string>()));
        }
        var (batched, results) = await CallWithTextAsync(http, HttpMethod.Post, "/v1/batches:execute",
            $$"""{"commands":[{"deposit":{"accountId":"{{id}}","amountMinor":"5","currencyCode":"EUR"},"withdraw":null}],"atomic":null}""");
        Assert.Equal((HttpStatusCode.OK, "1239"), (batched, results["results"]?[0]?["deposit"]?["balanceMinor"]?.GetValue<string>()));
        // null for a list is the empty list: the batch's own rule answers, not the JSON reading.
        var (empty, emptyError) = await CallWithTextAsync(http, HttpMethod.Post, "/v1/batches:execute", """{"commands":null}""");
        Assert.Equal(HttpStatusCode.BadRequest, empty);
        Assert.Equal("must hold 1 to 8192 commands (it holds 0)", Detail(emptyError, "BadRequest")["fieldViolations"]![0]!["description"]!.GetValue<string>());

        // Not whole, out of range, or not a JSON number to the letter.
        foreach (var amount in new[] { "0.5", "1e19", "\"1e-400\"", "\"+5\"", "\"05\"", "\" 5\"", "\"5 \"", "\"0x5\"", "\"\"" })
        {
            var (status, error) = await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit",
                $$"""{"amountMinor":{{amount}},"currencyCode":"EUR"}""");
            Assert.Equal((amount, HttpStatusCode.BadRequest, 3), (amount, status, error["code"]!.GetValue<int>()));
            Assert.Equal((amount, "amountMinor"), (amount, Detail(error, "BadRequest")["fieldViolations"]![0]!["field"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task ABodyOverItsMethodsJsonLimit_IsResourceExhausted_BeforeItIsRead_AndNothingRuns()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, openedAt) = await OpenAsync(http);
        const int MiB = 1024 * 1024;
        // A valid request padded with spaces to the size wanted: only its size can be refused.
        static byte[] Padded(string json, int bytes) => System.Text.Encoding.UTF8.GetBytes(json[..^1] + new string(' ', bytes - json.Length) + "}");
        var deposit = """{"amountMinor":"5","currencyCode":"EUR"}""";
        var batch = $$$"""{"commands":[{"deposit":{"accountId":"{{{id}}}","amountMinor":"5","currencyCode":"EUR"}}]}""";
        async Task<(HttpStatusCode, JsonNode)> Send(string path, byte[] body, bool chunked = false, bool expectContinue = false)
        {
            HttpContent content = chunked ? new StreamContent(new UnknownLengthStream(body)) : new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, path) { Content = content, Headers = { ExpectContinue = expectContinue } });
        }
        void AssertTooLarge((HttpStatusCode Status, JsonNode Body) answer, int limit, string what)
        {
            Assert.Equal((what, (HttpStatusCode)429, 8), (what, answer.Status, answer.Body["code"]!.GetValue<int>()));
            Assert.Equal($"the JSON body is larger than {limit} bytes", answer.Body["message"]!.GetValue<string>());
            Assert.Equal("MESSAGE_TOO_LARGE", Detail(answer.Body, "ErrorInfo")["reason"]!.GetValue<string>());
        }

        AssertTooLarge(await Send($"/v1/accounts/{id}:deposit", Padded(deposit, 2 * MiB + 1)), 2 * MiB, "a deposit of 2 MiB + 1");
        AssertTooLarge(await Send("/v1/batches:execute", Padded(batch, 16 * MiB + 1)), 16 * MiB, "a batch of 16 MiB + 1");
        AssertTooLarge(await Send("/v1/batches:execute", Padded(batch, 16 * MiB + 1), chunked: true), 16 * MiB, "a chunked batch of 16 MiB + 1");
        // Past Kestrel's own cap (30,000,000 bytes), which would answer with an empty 413. Kestrel closes the connection
        // rather than read the rest of such a body, and .NET's client hears the answer only if it waits for it before
        // sending the body (curl hears it either way).
        AssertTooLarge(await Send("/v1/batches:execute", Padded(batch, 40 * MiB), expectContinue: true), 16 * MiB, "a batch of 40 MiB");
        var (_, account) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?minPosition={openedAt}");
        Assert.Equal("1", account["account"]!["version"]!.GetValue<string>()); // nothing ran

        // The limit is JSON's own, twice the protobuf one: a deposit of 1.5 MiB of JSON is read (gRPC takes 1 MiB).
        var (status, deposited) = await Send($"/v1/accounts/{id}:deposit", Padded(deposit, 3 * MiB / 2));
        Assert.Equal((HttpStatusCode.OK, "5"), (status, deposited["balanceMinor"]!.GetValue<string>()));
    }

    /// <summary>A body whose length is not known in advance, so the client sends it chunked, without a content-length.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task ABatch_OverPlainJson_AnswersEachCommand_AndAnAtomicOneWritesNothingWhenOneFails()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, _) = await OpenAsync(http);
        object Deposit(string amount) => new { deposit = new { accountId = id, amountMinor = amount, currencyCode = "EUR" } };
        object Withdraw(string amount) => new { withdraw = new { accountId = id, amountMinor = amount, currencyCode = "EUR" } };

        var (status, independent) = await CallAsync(http, HttpMethod.Post, "/v1/batches:execute",
            new { commands = new[] { Deposit("500"), Withdraw("10000"), Deposit("200") } });
        Assert.Equal(HttpStatusCode.OK, status);
        var results = independent["results"]!.AsArray();
        Assert.Equal("500", results[0]!["deposit"]!["balanceMinor"]!.GetValue<string>());
        var refused = results[1]!["error"]!;
        Assert.Equal(9, refused["code"]!.GetValue<int>()); // FAILED_PRECONDITION, as the single RPC answers
        var reason = Assert.Single(refused["details"]!.AsArray(), d => d!["@type"]!.GetValue<string>() == "type.googleapis.com/google.rpc.ErrorInfo");
        Assert.Equal("INSUFFICIENT_FUNDS", reason!["reason"]!.GetValue<string>());
        Assert.Equal("700", results[2]!["deposit"]!["balanceMinor"]!.GetValue<string>());

        var (atomicStatus, error) = await CallAsync(http, HttpMethod.Post, "/v1/batches:execute",
            new { commands = new[] { Deposit("100"), Withdraw("10000") }, atomic = true });
        Assert.Equal(HttpStatusCode.BadRequest, atomicStatus);
        Assert.StartsWith("commands[1]: ", error["message"]!.GetValue<string>());
        var info = Assert.Single(error["details"]!.AsArray(), d => d!["@type"]!.GetValue<string>() == "type.googleapis.com/google.rpc.ErrorInfo");
        Assert.Equal("1", info!["metadata"]!["index"]!.GetValue<string>());
        var written = results[2]!["deposit"]!["position"]!.GetValue<string>();
        var (_, account) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?minPosition={written}");
        Assert.Equal("700", account["account"]!["balanceMinor"]!.GetValue<string>()); // the atomic batch's deposit is not there
    }

    [Fact]
    public async Task WithoutAKey_Unauthenticated_AndAnAuditorKeyMovesNoMoney()
    {
        await using var bank = await StartAsync();
        var (host, http) = (bank.Host, bank.Http);
        var (id, openedAt) = await OpenAsync(http);

        http.DefaultRequestHeaders.Authorization = null;
        var (status, error) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(16, error["code"]!.GetValue<int>());

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AuditorKey);
        var (denied, refusal) = await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit", new { amountMinor = "1", currencyCode = "EUR" });
        Assert.Equal(HttpStatusCode.Forbidden, denied);
        Assert.Equal(7, refusal["code"]!.GetValue<int>());
        // Read once the read side has the opening (a query without min_position may run ahead of the relay).
        var (_, account) = await CallAsync(http, HttpMethod.Get, $"/v1/accounts/{id}?minPosition={openedAt}");
        Assert.Equal("1", account["account"]!["version"]!.GetValue<string>()); // only the opening
    }

    [Fact]
    public async Task TheOpenApiDocument_IsOnTheJsonEndpoint_AndTheGrpcPortServesNoJsonRoutes()
    {
        await using var bank = await StartAsync();
        var (host, http) = (bank.Host, bank.Http);

        var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json"));
        var paths = document.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/v1/accounts/{accountId}:deposit", out var deposit));
        Assert.Equal("DepositMoney", deposit.GetProperty("post").GetProperty("operationId").GetString()); // named as the RPC, for generated clients
        var transfer = paths.GetProperty("/v1/payments").GetProperty("post");
        Assert.Contains("INSUFFICIENT_FUNDS", transfer.GetProperty("summary").GetString()); // the proto's comment on the RPC
        Assert.True(paths.TryGetProperty("/v1/accounts/{accountId}", out _));
        Assert.True(paths.TryGetProperty("/v1/batches:execute", out _));
        // int64 is written as a JSON string (proto3 JSON), and the document says so.
        var balance = document.RootElement.GetProperty("components").GetProperty("schemas")
            .GetProperty("DepositMoneyResponse").GetProperty("properties").GetProperty("balanceMinor");
        Assert.Equal(("string", "int64"), (balance.GetProperty("type").GetString(), balance.GetProperty("format").GetString()));
        // Only schemas an operation reaches: not the protobuf Value family the error detail's C# type referred to.
        var schemaNames = document.RootElement.GetProperty("components").GetProperty("schemas").EnumerateObject().Select(s => s.Name).ToList();
        Assert.DoesNotContain("Value", schemaNames);
        Assert.DoesNotContain("Struct", schemaNames);
        Assert.Contains("Status", schemaNames);
        Assert.Contains("BatchCommand", schemaNames);

        using var h2 = GrpcPortClient(host);
        Assert.Equal(HttpStatusCode.NotFound, (await h2.GetAsync("/v1/accounts")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await h2.GetAsync("/openapi/v1.json")).StatusCode);
    }

    [Fact]
    public async Task ARequestNoRouteTakes_IsAGoogleRpcStatus_OnTheJsonEndpoint_AndTheGrpcPortStaysAsItWas()
    {
        await using var bank = await StartAsync();
        var (host, http) = (bank.Host, bank.Http);
        var (id, _) = await OpenAsync(http);

        var (missing, notFound) = await CallAsync(http, HttpMethod.Post, "/v1/nope", new { });
        Assert.Equal((HttpStatusCode.NotFound, 5), (missing, notFound["code"]!.GetValue<int>()));
        Assert.Equal("no route of this API is POST /v1/nope (they are listed in /openapi/v1.json)", notFound["message"]!.GetValue<string>());
        Assert.Empty(notFound["details"]!.AsArray());

        using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/v1/accounts/{id}:deposit"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode); // HTTP's word for it, with the methods it takes
        Assert.Contains("POST", response.Content.Headers.Allow);
        var unimplemented = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(12, unimplemented["code"]!.GetValue<int>()); // UNIMPLEMENTED
        Assert.EndsWith(", not DELETE", unimplemented["message"]!.GetValue<string>());

        // The gRPC port is no JSON API: what no route takes there is still a bare 404.
        using var h2 = GrpcPortClient(host);
        using var grpcPort = await h2.PostAsync("/v1/nope", new StringContent("{}"));
        Assert.Equal((HttpStatusCode.NotFound, ""), (grpcPort.StatusCode, await grpcPort.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task RealErrorBodies_AreValidAgainstTheOpenApiDocumentsErrorSchema()
    {
        await using var bank = await StartAsync();
        var http = bank.Http;
        var (id, _) = await OpenAsync(http);
        var document = JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!;
        var schemas = document["components"]!["schemas"]!;
        var withdraw = document["paths"]!["/v1/accounts/{accountId}:withdraw"]!["post"]!;
        var error = withdraw["responses"]!["default"]!["content"]!["application/json"]!["schema"]!;
        Assert.Equal("#/components/schemas/Status", error["$ref"]!.GetValue<string>());

        var answers = new[]
        {
            await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:withdraw", new { amountMinor = "100", currencyCode = "EUR" }), // ErrorInfo with metadata
            await CallAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit", new { amountMinor = "-5", currencyCode = "EUR" }), // BadRequest and ErrorInfo
            await CallWithTextAsync(http, HttpMethod.Post, $"/v1/accounts/{id}:deposit", "[1]"), // refused before the transcoder
        };
        foreach (var (status, body) in answers)
        {
            Assert.NotEqual(HttpStatusCode.OK, status);
            Assert.NotEmpty(body["details"]!.AsArray());
            Assert.Equal((body.ToJsonString(), ""), (body.ToJsonString(), string.Join("; ", SchemaViolations(body, error, schemas, "$"))));
        }
    }

    /// <summary>
    /// Where <paramref name="json"/> breaks <paramref name="schema"/>, judged by the parts of OpenAPI 3.0's schemas the
    /// document uses: <c>$ref</c>, <c>type</c>, <c>nullable</c>, <c>properties</c>, <c>required</c>,
    /// <c>additionalProperties</c> (absent or true: anything) and <c>items</c>.
    /// </summary>
    private static List<string> SchemaViolations(JsonNode? json, JsonNode schema, JsonNode schemas, string at)
    {
        if (schema["$ref"] is { } reference) return SchemaViolations(json, schemas[reference.GetValue<string>().Split('/')[^1]]!, schemas, at);
        if (json is null) return schema["nullable"]?.GetValue<bool>() == true ? [] : [$"{at} is null"];
        var (type, kind) = (schema["type"]?.GetValue<string>(), json.GetValueKind());
        var fits = type switch
        {
            "object" => kind == JsonValueKind.Object,
            "array" => kind == JsonValueKind.Array,
            "string" => kind == JsonValueKind.String,
            "integer" or "number" => kind == JsonValueKind.Number,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            _ => true,
        };
        if (!fits) return [$"{at} is a JSON {kind} where the schema has {type}"];
        var violations = new List<string>();
        if (json is JsonObject properties)
        {
            foreach (var required in schema["required"]?.AsArray() ?? [])
                if (!properties.ContainsKey(required!.GetValue<string>())) violations.Add($"{at} lacks {required}");
            foreach (var (name, value) in properties)
            {
                var property = schema["properties"]?[name] ?? schema["additionalProperties"];
                if (property?.GetValueKind() == JsonValueKind.False) violations.Add($"{at}.{name} is not allowed");
                else if (property is JsonObject) violations.AddRange(SchemaViolations(value, property, schemas, $"{at}.{name}"));
            }
        }
        if (json is JsonArray items && schema["items"] is { } item)
            for (var i = 0; i < items.Count; i++) violations.AddRange(SchemaViolations(items[i], item, schemas, $"{at}[{i}]"));
        return violations;
    }

    /// <summary>Plain HTTP/2 to the gRPC port, as a client that took it for the JSON endpoint would call it.</summary>
    private static HttpClient GrpcPortClient(BankHost host)
    {
        var h2 = new HttpClient
        {
            BaseAddress = new Uri(host.GrpcUrl),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        h2.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TellerKey);
        return h2;
    }
}
