using System.Globalization;
using GrpcBank.Application.EventStore;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The group commit's bounds (<see cref="GroupCommitLimits"/>) from <c>EventStore:GroupCommit:MaxAppends</c> and
/// <c>EventStore:GroupCommit:MaxBytes</c>; each unset one keeps its default. A value that is not a whole number above
/// 0 refuses to start, naming the setting.
/// </summary>
public static class GroupCommitSettings
{
    private const string Section = "EventStore:GroupCommit";

    public static GroupCommitLimits Of(IConfiguration configuration)
    {
        var defaults = GroupCommitLimits.Default;
        return defaults with
        {
            MaxAppends = Positive(configuration, "MaxAppends", defaults.MaxAppends),
            MaxBytes = Positive(configuration, "MaxBytes", defaults.MaxBytes),
        };
    }

    private static int Positive(IConfiguration configuration, string name, int unset)
    {
        var key = $"{Section}:{name}";
        return configuration[key] switch
        {
            null or "" => unset,
            var value when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 => n,
            var value => throw new StartupRefusedException($"{key} must be a whole number above 0, not '{value}'"),
        };
    }
}
