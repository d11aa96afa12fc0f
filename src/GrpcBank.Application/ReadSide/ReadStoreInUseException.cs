namespace GrpcBank.Application.ReadSide;

/// <summary>
/// A read store of another read-store schema (another release's) while a server runs the relay: replacing it now would
/// empty the read side for good, since only a relay that starts afterwards refills it; the running one feeds it only new
/// events. Raised by a read store as it sets up, before it changes anything.
/// </summary>
/// <param name="serves">What serves the other schema's views, e.g. <c>bank_read serves a generation</c>.</param>
public sealed class ReadStoreInUseException(string serves, int servingSchema, int schema) : InvalidOperationException(
    $"The read store {serves} of read-store schema {servingSchema} (another release's; this one's is {schema}) and a " +
    "server runs the relay: replaced now, the read side would be left empty, fed only with new events by that relay. A " +
    "change of the read-store schema is not a rolling upgrade: stop the servers of the other release, then start this " +
    "one, which replaces the read side and refills it from the event store.");
