using GrpcBank.Application.EventStore;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The group commit's bounds (<see cref="GroupCommitLimits"/>) from <c>EventStore:GroupCommit:MaxAppends</c>,
/// <c>EventStore:GroupCommit:MaxBytes</c> and <c>EventStore:GroupCommit:MaxGroupsInFlight</c> (taken by a PostgreSQL store
/// only; the embedded one writes one group at a time); each unset one keeps its default. A value that is not a whole number above
/// 0 refuses to start, naming the setting, by the rule and in the words of every other such setting (<see cref="Setting.Above{T}"/>).
/// </summary>
public static class GroupCommitSettings
{
    public static GroupCommitLimits Of(IConfiguration configuration)
    {
        var defaults = GroupCommitLimits.Default;
        var section = configuration.GetSection("EventStore:GroupCommit");
        return defaults with
        {
            MaxAppends = Setting.Above(section, "MaxAppends", defaults.MaxAppends, 0),
            MaxBytes = Setting.Above(section, "MaxBytes", defaults.MaxBytes, 0),
            MaxGroupsInFlight = Setting.Above(section, "MaxGroupsInFlight", defaults.MaxGroupsInFlight, 0),
        };
    }
}
