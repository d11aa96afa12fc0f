using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl batch: a file of money commands through ExecuteBatch, failures by line, safe to run again.</summary>
public sealed class BatchFileSpecs : IAsyncLifetime
{
    private BankHost host = null!;
    private readonly string directory = Directory.CreateTempSubdirectory("grpcbank-batch-file-").FullName;

    public async ValueTask InitializeAsync()
    {
        host = await BankHost.StartEmbeddedAsync();
        foreach (var id in new[] { "ada", "bob" })
            await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = id, CurrencyCode = "EUR" });
    }

    public async ValueTask DisposeAsync()
    {
        await host.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    private string File(params string[] lines)
    {
        var path = Path.Combine(directory, $"{Guid.NewGuid():N}.jsonl");
        System.IO.File.WriteAllLines(path, lines);
        return path;
    }

    private static string Deposit(string account, long amount, string requestId) =>
        $$$"""{"deposit": {"accountId": "{{{account}}}", "amountMinor": {{{amount}}}, "currencyCode": "EUR", "requestId": "{{{requestId}}}"}}""";

    private async Task<long> BalanceAsync(string account)
    {
        var head = await host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        return (await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = account, MinPosition = head })).Account.BalanceMinor;
    }

    [Fact]
    public async Task EachRefusedCommand_IsPrintedWithItsLine_AndRunningTheFileAgainChangesNothing()
    {
        var file = File(
            "# payroll",
            Deposit("ada", 250_000, "pay-ada"),
            """{"withdraw": {"accountId": "bob", "amountMinor": 100000, "currencyCode": "EUR", "requestId": "fee-bob"}}""",
            "",
            """{"transfer": {"fromAccountId": "ada", "toAccountId": "bob", "amountMinor": 5000, "currencyCode": "EUR", "requestId": "rent"}}""",
            Deposit("ada", 0, "zero"));

        var run = await Ctl.RunAsync(host, "batch", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("line 3: FAILED_PRECONDITION INSUFFICIENT_FUNDS:", run.Stdout);
        Assert.Contains("line 6: INVALID_ARGUMENT INVALID_AMOUNT [commands[3].deposit.amount_minor:", run.Stdout);
        Assert.Contains("4 commands from", run.Stdout);
        Assert.Contains("in 1 request(s): 2 done, 2 refused (lines 3, 6).", run.Stdout);
        Assert.Equal((245_000L, 5_000L), (await BalanceAsync("ada"), await BalanceAsync("bob")));

        var again = await Ctl.RunAsync(host, "batch", file);

        Assert.Equal(1, again.ExitCode);
        Assert.Equal((245_000L, 5_000L), (await BalanceAsync("ada"), await BalanceAsync("bob")));
        Assert.DoesNotContain("no requestId", again.Stderr);
    }

    [Fact]
    public async Task AnAtomicFile_WithARefusedCommand_WritesNothing_AndNamesItsLine()
    {
        var file = File(Deposit("bob", 1_000, "atomic-1"), "# then", Deposit("nobody", 1, "atomic-2"));

        var run = await Ctl.RunAsync(host, "batch", file, "--atomic");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nothing was written: the command on line 3 was refused", run.Stderr);
        Assert.Contains("reason: ACCOUNT_NOT_FOUND", run.Stderr);
        Assert.Equal(0L, await BalanceAsync("bob"));
    }

    [Fact]
    public async Task AFileLargerThanOneRequest_IsSentInSeveral_ButNotAsOneAtomicBatch()
    {
        var file = File([.. Enumerable.Range(0, 8_193).Select(i => Deposit("bob", 1, $"many-{i}"))]);

        var atomic = await Ctl.RunAsync(host, "batch", file, "--atomic");
        Assert.Equal(2, atomic.ExitCode);
        Assert.Contains("line 8193 would start a second", atomic.Stderr);

        var run = await Ctl.RunAsync(host, "batch", file);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("in 2 request(s): 8,193 done, 0 refused.", run.Stdout);
        Assert.Equal(8_193L, await BalanceAsync("bob"));
    }

    [Theory]
    [InlineData("""{"depost": {}}""")]
    [InlineData("""{"deposit": {"accountId": "bob",""")] // not JSON at all: the parser's InvalidJsonException was a crash with a stack trace
    [InlineData("deposit bob 5")]
    public async Task ALineThatIsNoCommand_IsAUsageError_NamingTheLine_AndNothingIsSent(string line)
    {
        var run = await Ctl.RunAsync(host, "batch", File(Deposit("bob", 5, "ok-1"), line));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("line 2 is not a command", run.Stderr);
        Assert.Equal(0L, await BalanceAsync("bob"));
    }

    [Theory]
    [InlineData("/proc/self/mem", "cannot read '/proc/self/mem': ")] // there, but reading it fails even as root (EIO)
    [InlineData("{directory}", "no file '{directory}'")]
    [InlineData("{directory}/missing/payroll.jsonl", "no file '{directory}/missing/payroll.jsonl'")]
    public async Task AFileThatCannotBeRead_IsAUsageError_NamingItInOneLine(string path, string message)
    {
        // A file that is there but cannot be read was an unhandled IOException (UnauthorizedAccessException without
        // the permission): a stack trace and exit 134.
        Assert.SkipWhen(path.StartsWith("/proc/") && !System.IO.File.Exists(path), "no /proc/self/mem on this system");
        path = path.Replace("{directory}", directory);

        var run = await Ctl.RunAsync(host, "batch", path);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"bankctl: {message.Replace("{directory}", directory)}", run.Stderr);
        Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task LinesWithoutARequestId_AreDone_WithAWarningThatAgainWouldDoThemAgain()
    {
        var run = await Ctl.RunAsync(host, "batch", File("""{"deposit": {"accountId": "ada", "amountMinor": 7, "currencyCode": "EUR"}}"""));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("1 line(s) had no requestId: running the file again would run them again", run.Stderr);
    }
}
