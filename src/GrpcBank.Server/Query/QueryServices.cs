using GrpcBank.Server.Hosting;
using GrpcBank.Application.ReadSide;

namespace GrpcBank.Server.Query;

/// <summary>What QueryService needs besides the stores: the read-your-writes waiter and the page-token key.</summary>
public static class QueryServices
{
    public static IServiceCollection AddQueries(this IServiceCollection services, IConfiguration configuration, string dataDirectory)
    {
        var defaults = ReadSideWaiter.Limits.Default;
        // A cap of 0 or less answered every read that had to wait RESOURCE_EXHAUSTED: refused at start (Setting.Above).
        services.AddSingleton(new ReadSideWaiter.Limits(
            Setting.Above(configuration, "Query:MaxWaitingReads", defaults.MaxWaiting, 0),
            Setting.Wait(configuration, "Query:ReadSidePollInterval", defaults.PollInterval)));
        services.AddSingleton<ReadSideWaiter>();
        services.AddSingleton(new PageTokens(PageTokenKey.Load(configuration, dataDirectory)));
        return services;
    }
}
