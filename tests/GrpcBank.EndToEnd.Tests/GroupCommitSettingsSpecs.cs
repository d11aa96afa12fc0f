using GrpcBank.Application.EventStore;
using GrpcBank.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>The group commit's bounds come from EventStore:GroupCommit; a value that cannot be one refuses to start.</summary>
public sealed class GroupCommitSettingsSpecs
{
    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public void UnsetBounds_KeepTheirDefaults_AndEachSetOneTakesItsValue()
    {
        Assert.Equal(GroupCommitLimits.Default, GroupCommitSettings.Of(Settings()));
        Assert.Equal(GroupCommitLimits.Default with { MaxAppends = 32 }, GroupCommitSettings.Of(Settings(("EventStore:GroupCommit:MaxAppends", "32"))));
        Assert.Equal(GroupCommitLimits.Default with { MaxAppends = 1, MaxBytes = 65_536 },
            GroupCommitSettings.Of(Settings(("EventStore:GroupCommit:MaxAppends", "1"), ("EventStore:GroupCommit:MaxBytes", "65536"))));
    }

    [Theory]
    [InlineData("MaxAppends", "0", "is not a whole number above 0")]
    [InlineData("MaxAppends", "-5", "is not a whole number above 0")]
    [InlineData("MaxBytes", "1MB", "is not a whole number")]
    [InlineData("MaxBytes", "99999999999", "is not a whole number")]
    [InlineData("MaxAppends", "", "is not a whole number")] // as any other setting set to nothing; it used to mean the default
    public void ABoundThatIsNotAWholeNumberAboveZero_RefusesToStart_NamingTheSettingAndTheValue(string name, string value, string form)
    {
        var e = Assert.Throws<StartupRefusedException>(() => BankServer.Build(
            [$"--EventStore:GroupCommit:{name}={value}", $"--Storage:DataDirectory={Path.GetTempPath()}/grpcbank-tests/group-commit-refused"]));

        // In the words of every other setting's refusal (Setting.Above, SettingSpecs).
        Assert.Equal($"EventStore:GroupCommit:{name} '{value}' {form}", e.Message);
    }
}
