using System.Collections.Concurrent;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Thousands of generated malformed and abusive requests across every unary RPC of every bank service: each is answered
/// with OK or a deliberate client error (never UNKNOWN or INTERNAL), the server stays SERVING, and refused requests
/// store nothing. Set GRPCBANK_FUZZ_SEED to replay a run; the seed is printed.
/// </summary>
public sealed class FuzzSpecs
{
    private const int MixedRequests = 1_600;
    private const int MalformedRequests = 1_600;
    private const int InvalidUtf8Requests = 300;
    private const int UndecodableRequests = 100;

    /// <summary>OK or an error the bank chose on purpose: what any request, however malformed, may be answered with.</summary>
    internal static readonly StatusCode[] Deliberate =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.FailedPrecondition, StatusCode.AlreadyExists,
        StatusCode.OutOfRange, StatusCode.Aborted, StatusCode.ResourceExhausted,
    ];

    /// <summary>Every bank service a client can call (health aside).</summary>
    internal static readonly ServiceDescriptor[] Services =
    [
        AccountService.Descriptor, OrderService.Descriptor, PaymentService.Descriptor, QueryService.Descriptor,
        HistoryService.Descriptor, ProjectionService.Descriptor, BatchService.Descriptor,
    ];

    /// <summary>
    /// Commands: an OK from one of these may store events. (An independent batch answers OK with each command's own
    /// refusal; that the error-only phases stored nothing is checked on the event store's head.)
    /// </summary>
    private static readonly ServiceDescriptor[] CommandServices = [AccountService.Descriptor, OrderService.Descriptor, PaymentService.Descriptor];

    /// <summary>Messages as the bytes on the wire, so any bytes can be sent to any method.</summary>
    internal static readonly Marshaller<byte[]> Raw = Marshallers.Create(bytes => bytes, bytes => bytes);

    private static readonly MethodDescriptor[] Unary =
        Services.SelectMany(s => s.Methods).Where(m => !m.IsClientStreaming && !m.IsServerStreaming).ToArray();

    [Fact]
    public async Task MalformedAndAbusiveRequests_AreAnsweredDeliberately_AndRefusedOnesStoreNothing()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("GRPCBANK_FUZZ_SEED"), out var s) ? s : 20261129;
        TestContext.Current.SendDiagnosticMessage($"fuzz seed {seed} (GRPCBANK_FUZZ_SEED={seed} replays this run)");
        var random = new Random(seed);
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()));
        var (knownIds, knownPosition) = await SeedBankAsync(host.Channel);
        var fuzzer = new RequestFuzzer(random, knownIds, knownPosition);
        var answers = new ConcurrentBag<Answer>();

        // Generated up front, in order, so that the seed alone decides the requests however the calls interleave.
        var mixed = Enumerable.Range(0, MixedRequests).Select(_ => Pick(random)).Select(m => (m, fuzzer.Request(m, malformed: false), "mixed")).ToList();
        await SendAllAsync(host.Channel, mixed, answers);
        await QuiescentAsync(host.Channel);

        var head = await ReadSide.HeadAsync(host.Channel);
        var malformed = Enumerable.Range(0, MalformedRequests).Select(_ => Pick(random)).Select(m => (m, fuzzer.Request(m, malformed: true), "malformed")).ToList();
        var utf8 = Enumerable.Range(0, InvalidUtf8Requests).Select(_ => Pick(random))
            .Select(m => (m, fuzzer.WithInvalidUtf8(m, out var field), $"invalid UTF-8 in {field}")).ToList();
        await SendAllAsync(host.Channel, [.. malformed, .. utf8], answers);
        var undecodable = Enumerable.Range(0, UndecodableRequests).Select(_ => Pick(random)).Select(m => (m, fuzzer.Undecodable(m), "undecodable")).ToList();
        var undecodableAnswers = new ConcurrentBag<Answer>();
        await SendAllAsync(host.Channel, undecodable, undecodableAnswers);
        await QuiescentAsync(host.Channel);

        var all = answers.Concat(undecodableAnswers).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed}, {all.Count} requests\n{Summary(all)}");
        Assert.True(all.Count >= 3_000);
        var careless = all.Where(a => !Deliberate.Contains(a.Code)).Select(a => a.ToString()).ToList();
        Assert.True(careless.Count == 0, $"{careless.Count} answers were neither OK nor a deliberate error:\n{string.Join('\n', careless.Take(30))}");
        // Every command of the error-only phases was refused, and the event store did not move.
        var accepted = all.Where(a => a.Phase != "mixed" && a.Code == StatusCode.OK && CommandServices.Contains(a.Method.Service)).Select(a => a.ToString()).ToList();
        Assert.True(accepted.Count == 0, $"malformed commands were accepted:\n{string.Join('\n', accepted.Take(30))}");
        Assert.Equal(head, await ReadSide.HeadAsync(host.Channel));
        // Bytes that do not decode as the request (not protobuf at all, or a string field that is not UTF-8) are refused
        // before grpc-dotnet would answer UNKNOWN for them (Server/Errors/RequestDecoding.cs).
        var notDecoded = all.Where(a => a.Phase == "undecodable" || (a.Phase.StartsWith("invalid UTF-8") && !a.Phase.EndsWith("(none)"))).ToList();
        // Past the message limit (1 MiB, the batch's 8 MiB) the size is refused first (RESOURCE_EXHAUSTED), before any byte is decoded.
        Assert.All(notDecoded, a => Assert.Equal(a.RequestBytes > MaxRequestBytes(a.Method) ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument, a.Code));

        // A min_position beyond anything the bank handed out is refused at once, never answered with stale data.
        var query = new QueryService.QueryServiceClient(host.Channel);
        var beyond = await Assert.ThrowsAsync<RpcException>(() => query.GetAccountAsync(
            new GetAccountRequest { AccountId = knownIds[0], MinPosition = long.MaxValue }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
        Assert.Equal(StatusCode.OutOfRange, beyond.StatusCode);

        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        await ReadSide.AssertEqualsReplayAsync(host.Channel, knownIds.Where(id => id.StartsWith("fz-acct")));
    }

    private static MethodDescriptor Pick(Random random) => Unary[random.Next(Unary.Length)];

    private static int MaxRequestBytes(MethodDescriptor method) =>
        method.Service == BatchService.Descriptor ? GrpcBank.Server.Batch.BatchGrpcService.MaxRequestBytes : GrpcBank.Server.Errors.RequestDecoding.MaxMessageBytes;

    private static async Task SendAllAsync(GrpcChannel channel, IReadOnlyList<(MethodDescriptor Method, byte[] Request, string Phase)> requests, ConcurrentBag<Answer> answers)
    {
        var invoker = channel.CreateCallInvoker();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (r, _) =>
        {
            var method = new Method<byte[], byte[]>(MethodType.Unary, r.Method.Service.FullName, r.Method.Name, Raw, Raw);
            try
            {
                await invoker.AsyncUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(15)), r.Request);
                answers.Add(new Answer(r.Method, r.Phase, StatusCode.OK, "", r.Request.Length));
            }
            catch (RpcException e)
            {
                answers.Add(new Answer(r.Method, r.Phase, e.StatusCode, e.Status.Detail, r.Request.Length));
            }
        });
    }

    /// <summary>Accounts, an order, a transfer: ids the fuzzer reuses so that some requests get past validation.</summary>
    private static async Task<(string[] Ids, long Position)> SeedBankAsync(GrpcChannel channel)
    {
        var accounts = new AccountService.AccountServiceClient(channel);
        string[] ids = ["fz-acct-1", "fz-acct-2", "fz-acct-3"];
        foreach (var id in ids)
        {
            await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Fuzz {id}", CurrencyCode = id == "fz-acct-3" ? "CHF" : "EUR" });
            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1_000_000, CurrencyCode = id == "fz-acct-3" ? "CHF" : "EUR" });
        }
        var order = await new OrderService.OrderServiceClient(channel).PlaceOrderAsync(new PlaceOrderRequest
        {
            OrderId = "fz-order-1", CustomerAccountId = "fz-acct-1", MerchantAccountId = "fz-acct-2", AmountMinor = 500, CurrencyCode = "EUR",
        });
        // Fulfilled, so the order's payment exists for the fuzzer to aim at.
        await new OrderService.OrderServiceClient(channel).FulfillOrderAsync(new FulfillOrderRequest { OrderId = "fz-order-1" });
        var transfer = await new PaymentService.PaymentServiceClient(channel).TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = "fz-pay-1", FromAccountId = "fz-acct-2", ToAccountId = "fz-acct-1", AmountMinor = 100, CurrencyCode = "EUR",
        });
        await QuiescentAsync(channel);
        return ([.. ids, "fz-order-1", order.PaymentId, "fz-pay-1", "account-fz-acct-1", "order-fz-order-1", "payment-fz-pay-1"], transfer.Position);
    }

    /// <summary>Waits until the relay has delivered everything and the payment process wrote nothing more for a while.</summary>
    private static async Task QuiescentAsync(GrpcChannel channel)
    {
        var projections = new ProjectionService.ProjectionServiceClient(channel);
        long? previous = null;
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until)
        {
            var status = await projections.GetProjectionStatusAsync(new GetProjectionStatusRequest());
            var head = status.Projections.Max(p => p.HeadPosition);
            if (status.Projections.All(p => p.LagEvents == 0) && head == previous) return;
            previous = head;
            await Task.Delay(300);
        }
        throw new TimeoutException("the relay did not settle within 30 s");
    }

    private static string Summary(IEnumerable<Answer> answers) =>
        string.Join('\n', answers.GroupBy(a => $"{a.Method.Service.Name}/{a.Method.Name}").OrderBy(g => g.Key)
            .Select(g => $"{g.Key}: {string.Join(", ", g.GroupBy(a => a.Code).OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Count()}"))}"));

    private sealed record Answer(MethodDescriptor Method, string Phase, StatusCode Code, string Detail, int RequestBytes)
    {
        public override string ToString() => $"{Method.FullName} ({Phase}, {RequestBytes} bytes): {Code} {Detail}";
    }
}
