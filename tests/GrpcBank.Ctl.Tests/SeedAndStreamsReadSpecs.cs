using System.Text.Json;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl seed, then bankctl streams read.</summary>
public sealed class SeedAndStreamsReadSpecs(SeededBank bank) : IClassFixture<SeededBank>
{
    [Fact]
    public void Seed_PrintsASummary_WithIdsToTry()
    {
        Assert.Contains("Seeded 10 accounts (8 customers, 2 merchants;", bank.SeedOutput);
        Assert.Contains("12 orders:", bank.SeedOutput);
        Assert.Contains("bankctl streams read account-s7-c", bank.SeedOutput);
    }

    [Fact]
    public async Task StreamsRead_OfASeededAccount_ShowsItsEventsInVersionOrder()
    {
        var run = await Ctl.RunAsync(bank.Host, "streams", "read", "account-s7-m001");

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("VERSION  POSITION  TYPE", run.Lines[0]);
        Assert.Contains("accounts.AccountOpened.v1", run.Lines[1]);
        Assert.Contains("\"ownerName\":", run.Lines[1]);
        Assert.Contains(run.Lines.Skip(2), line => line.Contains("accounts.PaymentCredited.v2"));
    }

    [Fact]
    public async Task StreamsRead_Json_PagesFromAVersion_AndSaysWhereToGoOn()
    {
        var run = await Ctl.RunAsync(bank.Host, "--json", "streams", "read", "account-s7-m001", "--from-version", "2", "--max", "2");

        var json = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.Equal(["2", "3"], json.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("streamVersion").GetString()));
        Assert.Equal("4", json.GetProperty("nextVersion").GetString());
    }

    [Theory]
    [InlineData("1", false)]
    [InlineData("5", false)]
    [InlineData("1", true)]
    public async Task StreamsRead_OfAStreamThatDoesNotExist_IsExit1_SayingSo(string fromVersion, bool json)
    {
        var run = await Ctl.RunAsync(bank.Host, [.. json ? ["--json"] : Array.Empty<string>(), "streams", "read", "account-s7-nobody", "--from-version", fromVersion]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Stdout);
        Assert.Contains("bankctl: no stream account-s7-nobody", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public async Task StreamsRead_PastTheEndOfAStream_IsExit0_WithNoEvents()
    {
        var run = await Ctl.RunAsync(bank.Host, "streams", "read", "account-s7-m001", "--from-version", "9999");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("No events in account-s7-m001 from version 9999.", run.Stdout.Trim());
    }

    [Fact]
    public async Task Seed_RunAgainWithTheSameSeed_ChangesNothing()
    {
        var before = await Ctl.RunAsync(bank.Host, "--json", "streams", "read", "account-s7-m001");
        var again = await Ctl.RunAsync(bank.Host, "seed", "--accounts", "10", "--orders", "12", "--seed", SeededBank.Seed.ToString());
        var after = await Ctl.RunAsync(bank.Host, "--json", "streams", "read", "account-s7-m001");

        Assert.True(again.ExitCode == 0, again.Stderr);
        // The summary's last position is the head: the same head means nothing was written.
        Assert.Equal(bank.SeedOutput, again.Stdout);
        Assert.Equal(before.Stdout, after.Stdout);
    }
}
