namespace GrpcBank.Bus.RabbitMq;

/// <summary>
/// The broker could not take a batch (down, unreachable, closed the channel, refused or did not confirm in time). A
/// transient failure of the bus, never of the events: the relay backs off and publishes the batch again. Wrapping the
/// client's exceptions keeps any of them from being mistaken for a poison event (<c>PoisonEvents.IsPoison</c>).
/// </summary>
public sealed class BusUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
