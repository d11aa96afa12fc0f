using GrpcBank.Application.EventStore;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>Many request ids looked up at once (an independent batch's unanswered commands): each as it would be alone.</summary>
public abstract partial class EventStoreConformance
{
    [Fact]
    public async Task ManyRequestIdsLookedUpAtOnce_AnswerEachAsItWouldAlone_InTheirOrder_RepeatsIncluded()
    {
        var a = Assert.IsType<AppendResult.Appended>(await AppendAsync("account-a", 0, [Event()], Request("r-a")));
        var b = Assert.IsType<AppendResult.Appended>(await AppendAsync("account-b", 0, [Event()], Request("r-b")));
        await Store.LogRequestAsync(Request("r-no-op"), a.Position, Ct);

        var found = await Store.FindRequestsAsync(["r-b", "r-new", "r-a", "r-no-op", "r-b"], Ct);

        Assert.Equal(
            [await Store.FindRequestAsync("r-b", Ct), null, await Store.FindRequestAsync("r-a", Ct), await Store.FindRequestAsync("r-no-op", Ct),
                await Store.FindRequestAsync("r-b", Ct)],
            found);
        Assert.Equal((b.Position, a.Position), (found[0]!.Position, found[2]!.Position));
        Assert.Empty(await Store.FindRequestsAsync([], Ct));
    }
}
