using GrpcBank.Server.Hosting;
using Grpc.Core;

namespace GrpcBank.Server.History;

/// <summary>
/// How many live subscriptions the server holds: at most <c>Subscriptions:MaxPerCaller</c> (default 16) per caller (the
/// API key's name, or the peer's address without keys) and <c>Subscriptions:MaxTotal</c> (default 256) in all; beyond
/// either, RESOURCE_EXHAUSTED. A slot is given back when its subscription ends, however it ends. Each cap is above 0 or
/// the server refuses to start: a cap of 0 or less refused every subscription, and there is no "no limit" value.
/// </summary>
public sealed class SubscriptionSlots(IConfiguration configuration)
{
    private readonly int maxPerCaller = Setting.Above(configuration, "Subscriptions:MaxPerCaller", 16, 0);
    private readonly int maxTotal = Setting.Above(configuration, "Subscriptions:MaxTotal", 256, 0);
    private readonly Dictionary<string, int> byCaller = [];
    private readonly Lock gate = new();
    private int total;

    /// <summary>Takes a slot for <paramref name="caller"/>, to be disposed when the subscription ends.</summary>
    public IDisposable Take(string caller)
    {
        lock (gate)
        {
            if (total >= maxTotal)
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"the server holds its maximum of {maxTotal} subscriptions; try again later"));
            var held = byCaller.GetValueOrDefault(caller);
            if (held >= maxPerCaller)
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"'{caller}' already holds its maximum of {maxPerCaller} subscriptions; end one first"));
            byCaller[caller] = held + 1;
            total++;
        }
        return new Slot(this, caller);
    }

    private void Give(string caller)
    {
        lock (gate)
        {
            total--;
            if (--byCaller[caller] == 0) byCaller.Remove(caller);
        }
    }

    private sealed class Slot(SubscriptionSlots slots, string caller) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) slots.Give(caller);
        }
    }
}
