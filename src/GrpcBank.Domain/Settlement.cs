namespace GrpcBank.Domain;

/// <summary>
/// How a payment's money moved, recorded on the events a payment writes (storage format: "saga" or "atomic").
/// Saga: step by step, each account in its own transaction, driven by the payment process (history written before
/// atomic transfers, and payments it still carries to the end). Atomic: payer, payee and payment in one append, by one
/// decision (<see cref="Payments.Transfer"/>); the payment process has nothing left to do for it.
/// </summary>
public enum Settlement
{
    Saga,
    Atomic,
}
