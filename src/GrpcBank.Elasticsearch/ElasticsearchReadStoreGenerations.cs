using GrpcBank.Application.ReadSide;

namespace GrpcBank.Elasticsearch;

/// <summary>Elasticsearch generations: a fresh set of indices, switched by one atomic alias swap.</summary>
public sealed class ElasticsearchReadStoreGenerations(ElasticsearchReadStore live) : IReadStoreGenerations
{
    public IReadStore OpenCurrent() => live;

    public async Task<IReadStore> CreateNextAsync(CancellationToken ct) =>
        await live.CreateGenerationAsync(DateTime.UtcNow.ToString("yyyyMMddHHmmssfff"), null, ct);

    public Task FinishLoadAsync(IReadStore next, CancellationToken ct) => ((ElasticsearchReadStore)next).FinishLoadAsync(ct);

    public Task SwitchAsync(IReadStore current, IReadStore next, CancellationToken ct) =>
        live.SwitchToAsync((ElasticsearchReadStore)next, null, ct);

    public Task DropAsync(IReadStore abandoned, CancellationToken ct) => live.DropGenerationAsync((ElasticsearchReadStore)abandoned, ct);
}
