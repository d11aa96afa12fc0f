namespace GrpcBank.Application.Relay;

/// <summary>
/// A consumer cannot act on an event as things stand (the payment process's return of a payer's money, refused by the
/// payer's account): no redelivery changes that, and dropping it would lose what it stands for. The event is set aside as
/// a dead letter like a poison one (<see cref="PoisonEvents"/>): logged, counted, listed, and handed to the consumer again
/// by <c>RetryDeadLetters</c> once someone has changed what stood in the way.
/// </summary>
public sealed class RefusedEventException(string message) : Exception(message);
