namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Read stores come in generations: the current one serves while a next one is built from the event store,
/// then the next one becomes current for good (surviving restarts) and the old one is dropped.
/// </summary>
public interface IReadStoreGenerations
{
    /// <summary>
    /// The generation that serves now: called once, at start-up, before any rebuild. A store may then delete
    /// generations a crash left behind.
    /// </summary>
    IReadStore OpenCurrent();

    /// <summary>A new, empty generation that does not serve yet.</summary>
    Task<IReadStore> CreateNextAsync(CancellationToken ct);

    /// <summary>
    /// Ends the bulk load of <paramref name="next"/> (filled while nothing reads it; a store may have relaxed its
    /// durability, indexing or refreshing meanwhile): from here it must be what a serving generation is. Called once,
    /// before the catch-up and the switch.
    /// </summary>
    Task FinishLoadAsync(IReadStore next, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Makes <paramref name="next"/> the serving generation, durably, then drops <paramref name="current"/>.</summary>
    Task SwitchAsync(IReadStore current, IReadStore next, CancellationToken ct);

    /// <summary>
    /// Drops <paramref name="abandoned"/>, a generation from <see cref="CreateNextAsync"/> that never became the serving one
    /// (its rebuild failed or was cancelled before the switch): otherwise each such rebuild would leave one behind for good.
    /// </summary>
    Task DropAsync(IReadStore abandoned, CancellationToken ct);
}
