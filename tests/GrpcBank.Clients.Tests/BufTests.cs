using System.Text.Json;

namespace GrpcBank.Clients.Tests;

/// <summary><c>buf</c> (from npm, as in the README) on the contract: lint, breaking changes, and curl through reflection.</summary>
public sealed class BufTests(ServerFixture server)
{
    private static readonly TimeSpan BufTimeout = TimeSpan.FromSeconds(180); // the first npx run downloads buf
    private static readonly TimeSpan GitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Lint_passes()
    {
        var result = await Buf("lint");
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task No_breaking_change_against_the_previous_contract()
    {
        if (!Path.Exists(Repo.PathOf(".git"))) Assert.Skip($"{Repo.Root} has no .git: nothing to compare the protos with");
        if (ChildProcess.FindOnPath("git") is null) Assert.Skip("git is not on PATH");
        var against = await PreviousContractAsync();
        if (against is null) Assert.Skip("HEAD has no previous commit (a first commit or a shallow clone): nothing to compare with");

        var result = await Buf("breaking", "--against", $".git#ref={against}");
        Assert.True(result.ExitCode == 0, $"against {against}: {result}");
    }

    [Fact]
    public async Task Curl_lists_the_methods_and_calls_them_through_reflection()
    {
        var methods = await Buf("curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", server.Url);
        Assert.True(methods.ExitCode == 0, methods.ToString());
        Assert.Contains("bank.accounts.v1.AccountService/OpenAccount", methods.Output.Split('\n').Select(l => l.Trim()));

        var accountId = $"curl-{Guid.NewGuid():N}";
        var opened = await CurlJson("bank.accounts.v1.AccountService/OpenAccount",
            new { account_id = accountId, owner_name = "Ada Lovelace", currency_code = "EUR" });
        Assert.Equal(accountId, opened.GetProperty("accountId").GetString());
        Assert.Equal("1", opened.GetProperty("version").GetString()); // int64 is a string in proto JSON
        var position = opened.GetProperty("position").GetString()!;

        var read = await CurlJson("bank.query.v1.QueryService/GetAccount", new { account_id = accountId, min_position = long.Parse(position) });
        var account = read.GetProperty("account");
        Assert.Equal(accountId, account.GetProperty("accountId").GetString());
        Assert.Equal("Ada Lovelace", account.GetProperty("ownerName").GetString());
        Assert.Equal("EUR", account.GetProperty("currencyCode").GetString());
        Assert.Equal("ACCOUNT_STATUS_ACTIVE", account.GetProperty("status").GetString());
        Assert.False(account.TryGetProperty("balanceMinor", out _), "a zero balance is the default, left out of proto JSON");
        Assert.True(long.Parse(read.GetProperty("position").GetString()!) >= long.Parse(position), read.ToString());
    }

    [Fact]
    public async Task Curl_prints_a_batch_result_that_failed_with_its_error_details()
    {
        // google.rpc.Status packs its details in Any: reflection must serve their types, or buf prints nothing of the reply.
        var accountId = $"curl-{Guid.NewGuid():N}";
        await CurlJson("bank.accounts.v1.AccountService/OpenAccount", new { account_id = accountId, owner_name = "Ada Lovelace", currency_code = "EUR" });

        var reply = await CurlJson("bank.batch.v1.BatchService/ExecuteBatch",
            new { commands = new[] { new { withdraw = new { account_id = accountId, amount_minor = 10, currency_code = "EUR" } } } });

        var error = Assert.Single(reply.GetProperty("results").EnumerateArray()).GetProperty("error");
        Assert.Equal(9, error.GetProperty("code").GetInt32()); // FAILED_PRECONDITION
        var info = Assert.Single(error.GetProperty("details").EnumerateArray());
        Assert.Equal("type.googleapis.com/google.rpc.ErrorInfo", info.GetProperty("@type").GetString());
        Assert.Equal("INSUFFICIENT_FUNDS", info.GetProperty("reason").GetString());
    }

    private async Task<JsonElement> CurlJson(string method, object request)
    {
        var result = await Buf("curl", "--protocol", "grpc", "--http2-prior-knowledge",
            "-H", $"authorization: Bearer {server.ApiKey}", "-d", JsonSerializer.Serialize(request), $"{server.Url}/{method}");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Output).RootElement.Clone();
    }

    /// <summary>On a branch: where it left main. On main (or a branch not yet apart from it): the commit before HEAD.</summary>
    private static async Task<string?> PreviousContractAsync()
    {
        var head = await GitAsync("rev-parse", "HEAD");
        var branch = await GitAsync("rev-parse", "--abbrev-ref", "HEAD");
        if (branch is not null && branch != "main" && await GitAsync("merge-base", "HEAD", "main") is { } mergeBase && mergeBase != head)
            return mergeBase;
        return await GitAsync("rev-parse", "--verify", "--quiet", "HEAD~1^{commit}");
    }

    private static async Task<string?> GitAsync(params string[] arguments)
    {
        var result = await ChildProcess.RunAsync("git", arguments, GitTimeout, Repo.Root);
        return result.ExitCode == 0 ? result.Output.Trim() : null;
    }

    private static async Task<ProcessResult> Buf(params string[] arguments)
    {
        var npx = ChildProcess.FindOnPath("npx");
        if (npx is null) Assert.Skip("npx is not on PATH: buf comes from npm (@bufbuild/buf)");
        return await ChildProcess.RunAsync(npx, ["--yes", "@bufbuild/buf@1.75.0", .. arguments], BufTimeout, Repo.Root);
    }
}
