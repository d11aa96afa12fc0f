using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Server.Batch;
using GrpcBank.Server.Errors;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Hand-made HTTP/2 requests (h2c, prior knowledge) with broken gRPC framing and compression: each is the client's fault,
/// so INVALID_ARGUMENT (RESOURCE_EXHAUSTED for size), never UNKNOWN or INTERNAL; with keys configured, a caller without a
/// key hears UNAUTHENTICATED whatever it sent. grpc-dotnet's own clients cannot send these, so the test speaks HTTP/2 itself.
/// Each is sent to a single command and to the batch, whose size limit is its own.
/// </summary>
public sealed class TransportSpecs
{
    private const string TellerKey = "teller-secret-0123456789";
    private const string OpenAccount = "/bank.accounts.v1.AccountService/OpenAccount";
    private const string ExecuteBatch = "/bank.batch.v1.BatchService/ExecuteBatch";

    private static readonly byte[] ValidMessage =
        new OpenAccountRequest { OwnerName = "Ada Lovelace", CurrencyCode = "EUR" }.ToByteArray();

    /// <summary>owner_name (field 2) holding bytes that are not UTF-8.</summary>
    private static readonly byte[] InvalidUtf8Message = [0x12, 0x03, 0x61, 0xFF, 0xFE, 0x1A, 0x03, (byte)'E', (byte)'U', (byte)'R'];

    private static readonly byte[] ValidBatch = new ExecuteBatchRequest
    {
        Commands = { new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = "t-1", AmountMinor = 100, CurrencyCode = "EUR" } } },
    }.ToByteArray();

    /// <summary>commands[0].deposit.account_id (field 1 of each) holding bytes that are not UTF-8.</summary>
    private static readonly byte[] InvalidUtf8Batch = [0x0A, 0x06, 0x0A, 0x04, 0x0A, 0x02, 0xFF, 0xFE];

    /// <summary>Every broken request (built by <see cref="Request"/>), to each of the two methods, and the status it must get.</summary>
    public static TheoryData<string, string, StatusCode> Broken
    {
        get
        {
            var data = new TheoryData<string, string, StatusCode>();
            foreach (var path in new[] { OpenAccount, ExecuteBatch })
                foreach (var (name, code) in Cases) data.Add(path, name, code);
            return data;
        }
    }

    private static readonly (string Name, StatusCode Code)[] Cases =
    [
        ("a string that is not UTF-8", StatusCode.InvalidArgument),
        ("gzip holding a string that is not UTF-8", StatusCode.InvalidArgument),
        ("gzip garbage", StatusCode.InvalidArgument),
        ("the compressed flag on a message that is not gzip", StatusCode.InvalidArgument),
        ("the compressed flag without grpc-encoding", StatusCode.InvalidArgument),
        ("gzip that inflates beyond the size limit", StatusCode.ResourceExhausted),
        ("a frame length of 0xFFFFFFFF", StatusCode.ResourceExhausted),
        ("an empty body", StatusCode.InvalidArgument),
        ("a frame header cut short", StatusCode.InvalidArgument),
        ("a frame shorter than it declares", StatusCode.InvalidArgument),
        ("two messages in a unary call", StatusCode.InvalidArgument),
        ("unknown frame flags", StatusCode.InvalidArgument),
    ];

    private static byte[] Valid(string path) => path == ExecuteBatch ? ValidBatch : ValidMessage;

    private static (byte[] Body, string? Encoding) Request(string path, string name) => name switch
    {
        "a string that is not UTF-8" => (Frame(0, path == ExecuteBatch ? InvalidUtf8Batch : InvalidUtf8Message), null),
        "gzip holding a string that is not UTF-8" => (Frame(1, Gzip(path == ExecuteBatch ? InvalidUtf8Batch : InvalidUtf8Message)), "gzip"),
        "gzip garbage" => (Frame(1, [0x1F, 0x8B, 0x08, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x03, 0x01, 0x02, 0x03]), "gzip"),
        "the compressed flag on a message that is not gzip" => (Frame(1, Valid(path)), "gzip"),
        "the compressed flag without grpc-encoding" => (Frame(1, Gzip(Valid(path))), null),
        "gzip that inflates beyond the size limit" =>
            (Frame(1, Gzip(new byte[(path == ExecuteBatch ? BatchGrpcService.MaxRequestBytes : RequestDecoding.MaxMessageBytes) + 1024])), "gzip"),
        "a frame length of 0xFFFFFFFF" => ([0, 0xFF, 0xFF, 0xFF, 0xFF, .. Valid(path)], null),
        "an empty body" => ([], null),
        "a frame header cut short" => ([0, 0, 0], null),
        "a frame shorter than it declares" => (Frame(0, Valid(path))[..^4], null),
        "two messages in a unary call" => ([.. Frame(0, Valid(path)), .. Frame(0, Valid(path))], null),
        "unknown frame flags" => (Frame(0x80, Valid(path)), null),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public async Task BrokenFramingOrCompression_IsTheClientsFault(string path, string request, StatusCode expected)
    {
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()));
        var (body, encoding) = Request(path, request);

        var (code, message) = await CallAsync(host.GrpcUrl, path, body, encoding);

        Assert.True(expected == code, $"{path}, {request}: expected {expected}, got {code} {message}");
        // The server still answers a well-formed call on a fresh connection.
        Assert.Equal(StatusCode.OK, (await CallAsync(host.GrpcUrl, path, Frame(0, Valid(path)), null)).Code);
    }

    [Fact]
    public async Task AWellFormedGzipRequest_IsServed()
    {
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()));

        var (code, message) = await CallAsync(host.GrpcUrl, OpenAccount, Frame(1, Gzip(ValidMessage)), "gzip");

        Assert.True(code == StatusCode.OK, $"{code} {message}");
    }

    [Fact]
    public async Task WithKeysConfigured_ABrokenBodyWithoutAKey_IsUnauthenticated_AndWithAKey_InvalidArgument()
    {
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()),
            ("Auth:ApiKeys:0:Key", TellerKey), ("Auth:ApiKeys:0:Roles", "teller"));
        var broken = Frame(0, [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61]);

        Assert.Equal(StatusCode.Unauthenticated, (await CallAsync(host.GrpcUrl, OpenAccount, broken, null)).Code);
        Assert.Equal(StatusCode.Unauthenticated, (await CallAsync(host.GrpcUrl, OpenAccount, broken, null, "Bearer wrong-key-0123456789")).Code);
        Assert.Equal(StatusCode.InvalidArgument, (await CallAsync(host.GrpcUrl, OpenAccount, broken, null, $"Bearer {TellerKey}")).Code);
    }

    /// <summary>One gRPC frame: the compressed flag, the length (big-endian), the message.</summary>
    private static byte[] Frame(byte flags, byte[] message)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal)) gzip.Write(data);
        return output.ToArray();
    }

    /// <summary>POSTs <paramref name="body"/> as a gRPC request over h2c; the grpc-status from the trailers (or trailers-only headers).</summary>
    private static async Task<(StatusCode Code, string Message)> CallAsync(
        string baseUrl, string path, byte[] body, string? encoding, string? authorization = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl.TrimEnd('/') + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (encoding is not null) request.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("authorization", authorization);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken); // the trailers come after the body
        var status = Header(response.TrailingHeaders, "grpc-status") ?? Header(response.Headers, "grpc-status")
            ?? throw new Xunit.Sdk.XunitException("the response has no grpc-status");
        var message = Header(response.TrailingHeaders, "grpc-message") ?? Header(response.Headers, "grpc-message") ?? "";
        return ((StatusCode)int.Parse(status), Uri.UnescapeDataString(message));
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
