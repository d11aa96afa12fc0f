namespace GrpcBank.Contracts;

/// <summary>A mutating request: carries the optional idempotency key request_id (field 15).</summary>
public interface IIdempotentRequest
{
    string RequestId { get; set; }
}
