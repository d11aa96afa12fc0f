using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using GrpcBank.Contracts.Batch.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A valid request for any RPC, built from its descriptor and the seeded bank's ids, with exactly one field (perhaps
/// nested, perhaps in a batch's command) changed to an abusive value. Because the rest of the request is valid, an
/// INVALID_ARGUMENT for it has to be about that field: the answer can be checked for naming it. The same seed gives the
/// same requests.
/// </summary>
public sealed class FieldMutator(Random random)
{
    private static readonly string[] Strings =
    [
        "", " ", "a b", " fz-acct-1", "fz-acct-1 ", "\0", "id\u0001", "tab\t", "line\nbreak", "\u007f", "é", "账户", "🙂", "\u200b",
        "\ufeff", "../x", "a/b", "'; drop table events; --", "%_%", "*:*", "!!!!", "eyJ9", "e30", "AAAA====", "not-a-token",
        "EURO", "eur", "XXX", "€", "000", "balance_minor desc", "owner_name", "-", ".", "..",
        new string('x', 10_000), new string('\u00e9', 70_000),
    ];

    private static readonly long[] Int64s = [0, 1, -1, long.MaxValue, long.MinValue, long.MaxValue - 1, long.MinValue + 1, int.MaxValue, 9_007_199_254_740_993];

    private static readonly int[] Int32s = [0, -1, 1, int.MaxValue, int.MinValue, 100_000, 1_001];

    private static readonly (long Seconds, int Nanos)[] Times =
    [
        (0, 0), (-1, 0), (0, -1), (0, 1_000_000_000), (1, -1), (-1, 1), (-62_135_596_801, 0), (253_402_300_800, 0),
        (long.MaxValue, 0), (long.MinValue, 0), (1_700_000_000, int.MaxValue), (315_576_000_001, 0), (-315_576_000_001, 0),
        (4_102_444_800, 0), (60, 0), (3_600, 999_999_999),
    ];

    /// <summary>The valid request <paramref name="method"/> is mutated from (also sent as it is, to prove it valid).</summary>
    public IMessage Valid(MethodDescriptor method) => Valid(method.InputType);

    /// <summary>A mutated request and the path of the field changed (as a field violation would name it; alternatives split by '|').</summary>
    public (IMessage Request, string Field) Mutate(MethodDescriptor method)
    {
        var request = Valid(method.InputType);
        if (request is ExecuteBatchRequest batch && random.Next(3) > 0)
        {
            var index = random.Next(batch.Commands.Count);
            var command = batch.Commands[index];
            var inner = (IMessage)BatchCommand.Descriptor.Oneofs[0].Accessor.GetCaseFieldDescriptor(command)!.Accessor.GetValue(command);
            var field = Change(inner);
            var kind = BatchCommand.Descriptor.Oneofs[0].Accessor.GetCaseFieldDescriptor(command)!.Name;
            return (request, $"commands[{index}].{kind}.{field}");
        }
        return (request, Change(request));
    }

    /// <summary>Changes one field of <paramref name="message"/> (or of a message in it) and returns its path.</summary>
    private string Change(IMessage message)
    {
        var fields = message.Descriptor.Fields.InFieldNumberOrder();
        if (fields.Count == 0) return "(none)";
        var field = fields[random.Next(fields.Count)];
        if (field.IsRepeated)
        {
            var list = (IList)field.Accessor.GetValue(message);
            list.Clear();
            // Empty, or 100,000 long (a batch's commands: all valid, so only their number is wrong).
            if (random.Next(2) == 0)
                for (var i = 0; i < 100_000; i++) list.Add(field.FieldType switch { FieldType.Message => Valid(field.MessageType), FieldType.String => "accounts.", _ => Abusive(field) });
            return field.Name;
        }
        if (field.FieldType == FieldType.Message && !IsTime(field) && random.Next(3) == 0 && field.Accessor.GetValue(message) is IMessage nested)
            return $"{field.Name}.{Change(nested)}";
        if (field.FieldType == FieldType.Message && random.Next(4) == 0)
        {
            field.Accessor.Clear(message); // missing
            // Clearing a oneof's member clears the oneof: a refusal may name it or any of its members.
            return field.RealContainingOneof is { } oneof ? string.Join('|', [oneof.Name, .. oneof.Fields.Select(f => f.Name)]) : field.Name;
        }
        field.Accessor.SetValue(message, Abusive(field));
        return field.Name;
    }

    private object Abusive(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => Pick(Strings),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => Pick(Int64s),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => Pick(Int32s),
        FieldType.Bool => random.Next(2) == 0,
        FieldType.Enum => System.Enum.ToObject(field.EnumType.ClrType,
            random.Next(2) == 0 ? Pick([999, -1, int.MaxValue, int.MinValue, field.EnumType.Values.Max(v => v.Number) + 1]) : Pick(field.EnumType.Values.Select(v => v.Number).ToArray())),
        FieldType.Message when field.MessageType.ClrType == typeof(Timestamp) => Pick(Times) is var (s, n) ? new Timestamp { Seconds = s, Nanos = n } : null!,
        FieldType.Message when field.MessageType.ClrType == typeof(Duration) => Pick(Times) is var (s, n) ? new Duration { Seconds = s, Nanos = n } : null!,
        FieldType.Message => (IMessage)Activator.CreateInstance(field.MessageType.ClrType)!, // present but empty
        _ => throw new NotSupportedException($"{field.FullName}: {field.FieldType}"),
    };

    private static bool IsTime(FieldDescriptor field) =>
        field.MessageType.ClrType == typeof(Timestamp) || field.MessageType.ClrType == typeof(Duration);

    private IMessage Valid(MessageDescriptor descriptor)
    {
        var message = (IMessage)Activator.CreateInstance(descriptor.ClrType)!;
        if (message is ExecuteBatchRequest batch)
        {
            batch.Atomic = random.Next(2) == 0;
            for (var i = random.Next(1, 4); i > 0; i--)
                batch.Commands.Add((BatchCommand)Valid(BatchCommand.Descriptor));
            return message;
        }
        if (message is BatchCommand command)
        {
            var kind = BatchCommand.Descriptor.Oneofs[0].Fields;
            var field = kind[random.Next(kind.Count)];
            field.Accessor.SetValue(command, Valid(field.MessageType));
            return message;
        }
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
            if (ValidValue(field) is { } value) field.Accessor.SetValue(message, value);
        return message;
    }

    /// <summary>What a careful client would send; null leaves the field unset, which is valid for the rest.</summary>
    private object? ValidValue(FieldDescriptor field) => field.Name switch
    {
        "account_id" or "customer_account_id" or "from_account_id" => "fz-acct-1",
        "merchant_account_id" or "to_account_id" => "fz-acct-2",
        "order_id" => "fz-order-1",
        "payment_id" => "fz-pay-1",
        "hold_id" => "fz-hold-1",
        "stream_id" => "account-fz-acct-1",
        "currency_code" => "EUR",
        "amount_minor" => 10L,
        "request_id" => Guid.NewGuid().ToString("N"), // NewGuid is not seeded, but no outcome depends on its value
        "owner_name" => "Fuzz Owner",
        "reference" or "description" or "reason" => "fuzz",
        "page_size" => 10,
        "max_count" => 10,
        "block_debits" => true,
        "as_of_version" => 1L,
        "ttl" or "authorization_ttl" => new Duration { Seconds = 3_600 },
        _ => null,
    };

    private T Pick<T>(IReadOnlyList<T> values) => values[random.Next(values.Count)];
}
