using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Generates requests for any RPC from its protobuf descriptor: every field gets, at random, an ordinary value or an
/// abusive one (empty, huge, control characters, lone surrogates, injection strings, int64 extremes, unknown enum
/// numbers, impossible timestamps). The same seed gives the same requests.
/// </summary>
public sealed class RequestFuzzer(Random random, IReadOnlyList<string> knownIds, long knownPosition)
{
    /// <summary>Strings no id may be; never empty (an empty id means "make one up" for some commands).</summary>
    private static readonly string[] InvalidIds =
    [
        " ", "a b", new string('a', 65), new string('x', 71), "\0", "id\u0001", "tab\tid", "line\nbreak", "\u007f",
        "\ud800", "lone\udc00low", "\udbff\ud800", "é", "账户", "🙂", "../../etc/passwd", "a/b", "a%00b",
        "'; drop table events; --", "\" or 1=1 --", "1' union select * from request_log --", "%' or '%'='",
        "{\"query\":{\"match_all\":{}}}", "*:*", "owner_name:*", "\\", "a*", "a?b", "(a OR b)", "<script>", "${jndi:ldap://x}",
    ];

    private static readonly string[] AbusiveText =
    [
        "", " ", "\0", "\u0001\u0002", "\r\n", "\u2028", "\ufeff", "\ud800", "\udfff", "a\ud83d", "\u200b", "🙂🙂🙂",
        "'; drop table events; --", "' or '1'='1", "\"; select pg_sleep(10); --", "%", "_", "%_%", "\\'", "NULL",
        "{\"query\":{\"script\":{\"script\":\"while(true){}\"}}}", "{\"match_all\":{}}", "*", "?", "~", "a AND NOT b", "\"unterminated",
        "owner_name:(a OR b)^99", "/.*/", "NEAR(a b)", "a NOT", "\"\"", "(", ")", "-", "*:*", "_exists_:x",
        "EUR", "eur", "EURO", "XXX", "€", "000", "E\u0000R",
        "not-a-token", "eyJ9", "!!!!", "AAAA", "====", "e30", "eyJhIjoxfQ", "eyJmaWx0ZXJzIjpbXX0=", "bnVsbA", "W10",
        "balance_minor desc", "owner_name", "balance_minor", "-balance_minor", "account_id asc, x", "1; drop table x",
    ];

    private static readonly long[] Int64s =
    [
        0, 1, -1, 2, 100, 999, 10_000, long.MaxValue, long.MinValue, long.MaxValue - 1, long.MinValue + 1, int.MaxValue,
        int.MinValue, (long)int.MaxValue + 1, 9_007_199_254_740_993, 99_999_999_999_999, 1_000_000_000_000_000,
    ];

    private static readonly int[] Int32s = [0, 1, -1, 2, 10, 50, 100, 1_000, 1_001, 5_000, int.MaxValue, int.MinValue, -100];

    private static readonly long[] Seconds =
    [
        0, -1, 1, -62_135_596_800, -62_135_596_801, 253_402_300_799, 253_402_300_800, long.MaxValue, long.MinValue,
        1_700_000_000, 4_102_444_800, -2_208_988_800,
    ];

    private static readonly int[] Nanos = [0, 1, 999_999_999, 1_000_000_000, -1, int.MaxValue, int.MinValue];

    /// <summary>A request for <paramref name="method"/>; with <paramref name="malformed"/>, every id field holds an invalid id.</summary>
    public byte[] Request(MethodDescriptor method, bool malformed) => Message(method.InputType, malformed, depth: 0).ToByteArray();

    /// <summary>A request whose string field <paramref name="field"/> holds bytes that are not UTF-8 (the C# API cannot build these).</summary>
    public byte[] WithInvalidUtf8(MethodDescriptor method, out string field)
    {
        var strings = method.InputType.Fields.InFieldNumberOrder().Where(f => f.FieldType == FieldType.String).ToList();
        var valid = Message(method.InputType, malformed: false, depth: 0).ToByteArray();
        if (strings.Count == 0)
        {
            field = "(none)";
            return valid;
        }
        var target = strings[random.Next(strings.Count)];
        field = target.Name;
        byte[][] invalid =
        [
            [0xFF], [0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82],
            [0x61, 0x80, 0x62], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE, 0xFE, 0xFF, 0xFF], [0x65, 0x75, 0x72, 0xC1],
        ];
        using var buffer = new MemoryStream();
        buffer.Write(valid); // then the field again: for a singular field the last one wins
        var output = new CodedOutputStream(buffer, leaveOpen: true);
        output.WriteTag(target.FieldNumber, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(invalid[random.Next(invalid.Length)]));
        output.Flush();
        return buffer.ToArray();
    }

    /// <summary>Bytes that are not a valid encoding of <paramref name="method"/>'s request: noise, truncations, wrong wire types.</summary>
    public byte[] Undecodable(MethodDescriptor method)
    {
        var valid = Message(method.InputType, malformed: false, depth: 0).ToByteArray();
        switch (random.Next(5))
        {
            case 0:
                var noise = new byte[1 + random.Next(64)];
                random.NextBytes(noise);
                return noise;
            case 1 when valid.Length > 1:
                // Cut short; a cut that happens to fall between two fields is still a valid message, so then a field
                // whose length runs past the end is added.
                var cut = valid[..random.Next(1, valid.Length)];
                return Decodes(method, cut) ? [.. cut, 0x0A, 0x7F] : cut;
            case 2:
                return [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61]; // field 1, a length far beyond the end
            case 3:
                return [0x0F, 0x01]; // wire type 7 does not exist
            default:
                return [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]; // a varint of 11 bytes
        }
    }

    private static bool Decodes(MethodDescriptor method, byte[] bytes)
    {
        try
        {
            method.InputType.Parser.ParseFrom(bytes);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    private IMessage Message(MessageDescriptor descriptor, bool malformed, int depth)
    {
        var message = (IMessage)Activator.CreateInstance(descriptor.ClrType)!;
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            var isId = IsId(field);
            if (!(malformed && isId) && random.Next(4) == 0) continue;
            if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = random.Next(4); i > 0; i--) list.Add(Value(field, malformed, depth));
            }
            else
            {
                field.Accessor.SetValue(message, Value(field, malformed, depth));
            }
        }
        return message;
    }

    private object Value(FieldDescriptor field, bool malformed, int depth) => field.FieldType switch
    {
        FieldType.String when IsId(field) => malformed ? Pick(InvalidIds) : random.Next(10) switch
        {
            < 4 => Pick(knownIds),
            < 6 => Guid.NewGuid().ToString("N")[..random.Next(1, 32)],
            < 8 => Pick(InvalidIds),
            _ => Pick(AbusiveText),
        },
        FieldType.String => random.Next(100) switch
        {
            0 => new string('x', (1 << 20) + random.Next(-64, 64)), // around the 1 MB message limit
            1 => new string('\u00e9', 1 << 19), // 1 MB of UTF-8 in half as many characters
            < 5 => new string('a', random.Next(200, 70_000)),
            < 15 => field.Name == "currency_code" ? "EUR" : Pick(knownIds),
            _ => Pick(AbusiveText),
        },
        FieldType.Int64 when field.Name == "min_position" => Pick([0L, 0L, 1L, -1L, long.MinValue, int.MinValue, knownPosition]),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => random.Next(3) == 0 ? (long)random.Next(1, 100_000) : Pick(Int64s),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => Pick(Int32s),
        FieldType.Bool => random.Next(2) == 0,
        FieldType.Double => Pick([double.NaN, double.PositiveInfinity, -1.0, 0.0, double.MaxValue]),
        FieldType.Enum => System.Enum.ToObject(field.EnumType.ClrType,
            random.Next(3) == 0 ? Pick([999, -1, int.MaxValue, int.MinValue, 5]) : Pick(field.EnumType.Values.Select(v => v.Number).ToArray())),
        FieldType.Message when field.MessageType.ClrType == typeof(Timestamp) =>
            new Timestamp { Seconds = Pick(Seconds), Nanos = Pick(Nanos) },
        FieldType.Message when depth < 3 => Message(field.MessageType, malformed, depth + 1),
        _ => throw new NotSupportedException($"{field.FullName}: {field.FieldType} is not generated yet"),
    };

    /// <summary>Fields naming an account, order, payment or stream: ids that commands create things under.</summary>
    public static bool IsId(FieldDescriptor field) => field.FieldType == FieldType.String && (field.Name.EndsWith("_id") && field.Name != "request_id");

    private T Pick<T>(IReadOnlyList<T> values) => values[random.Next(values.Count)];
}
