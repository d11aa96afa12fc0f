using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Valid requests of every RPC (unary and streaming) with one field at a time made abusive (<see cref="FieldMutator"/>):
/// each is answered OK or with a deliberate error within a short deadline, and an INVALID_ARGUMENT names the field that
/// was changed. Set GRPCBANK_FUZZ_SEED to replay a run; the seed is printed.
/// </summary>
public sealed class FieldMutationFuzzSpecs
{
    private const int MutationsPerMethod = 40;

    private static readonly StatusCode[] Deliberate = FuzzSpecs.Deliberate;

    private static readonly MethodDescriptor[] Methods = [.. FuzzSpecs.Services.SelectMany(s => s.Methods)];

    private static readonly Marshaller<byte[]> Raw = FuzzSpecs.Raw;

    // 1: a batch deposit whose request id was a lone U+FEFF answered INTERNAL (SQLite read it as a byte-order mark).
    [Theory]
    [InlineData(20261207)]
    [InlineData(1)]
    public async Task EveryRpc_WithOneFieldMadeAbusive_IsAnsweredDeliberately_AndAnInvalidArgumentNamesThatField(int fixedSeed)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("GRPCBANK_FUZZ_SEED"), out var s) ? s : fixedSeed;
        TestContext.Current.SendDiagnosticMessage($"fuzz seed {seed} (GRPCBANK_FUZZ_SEED={seed} replays this run)");
        var random = new Random(seed);
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()));
        await SeedBankAsync(host.Channel);
        var mutator = new FieldMutator(random);

        // Generated up front, in order, so that the seed alone decides the requests.
        var requests = Methods.SelectMany(m => Enumerable.Range(0, m.InputType.Fields.InFieldNumberOrder().Count == 0 ? 1 : MutationsPerMethod).Select(_ => (Method: m, Mutated: mutator.Mutate(m)))).ToList();
        var findings = new List<string>();
        foreach (var (method, (request, field)) in requests)
        {
            var (code, status) = await CallAsync(host.Channel, method, request);
            var named = status?.GetDetail<BadRequest>()?.FieldViolations.Select(v => v.Field).ToList() ?? [];
            if (!Deliberate.Contains(code) && !(code == StatusCode.DeadlineExceeded && method.IsServerStreaming))
                findings.Add($"{method.FullName} {field}: {code} {status?.Message} in {JsonFormatter.Default.Format(request)[..Math.Min(600, JsonFormatter.Default.Format(request).Length)]}");
            else if (code == StatusCode.InvalidArgument && !named.Any(n => Names(n, field)))
                findings.Add($"{method.FullName} {field}: INVALID_ARGUMENT naming [{string.Join(", ", named)}] {status?.Message}");
        }

        Assert.True(findings.Count == 0, $"seed {seed}: {findings.Count} of {requests.Count} answers were careless:\n{string.Join('\n', findings.Distinct().Take(40))}");
        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    /// <summary>A violation names the changed field, or the message or list it is in (a list too long, a batch command refused whole).</summary>
    private static bool Names(string violation, string changed) => changed.Split('|').Any(c => NamesOne(violation, c));

    private static bool NamesOne(string violation, string changed) =>
        violation == changed || changed.StartsWith(violation + ".", StringComparison.Ordinal) || changed.StartsWith(violation + "[", StringComparison.Ordinal)
        || violation.StartsWith(changed + ".", StringComparison.Ordinal);

    /// <summary>One call within a short deadline; a stream is read until its first message or its end.</summary>
    private static async Task<(StatusCode Code, Google.Rpc.Status? Status)> CallAsync(GrpcChannel channel, MethodDescriptor method, IMessage request)
    {
        var invoker = channel.CreateCallInvoker();
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(method.IsServerStreaming ? 2 : 10));
        try
        {
            if (method.IsServerStreaming)
            {
                using var call = invoker.AsyncServerStreamingCall(new Method<byte[], byte[]>(MethodType.ServerStreaming, method.Service.FullName, method.Name, Raw, Raw),
                    null, options, request.ToByteArray());
                await call.ResponseStream.MoveNext(CancellationToken.None);
            }
            else
            {
                var reply = await invoker.AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, method.Service.FullName, method.Name, Raw, Raw),
                    null, options, request.ToByteArray());
                // An independent batch answers OK with each command's own status: the first careless one stands for it.
                if (method == BatchService.Descriptor.Methods[0]
                    && ExecuteBatchResponse.Parser.ParseFrom(reply).Results.Select(r => r.Error).FirstOrDefault(e => e is not null && !Deliberate.Contains((StatusCode)e.Code)) is { } careless)
                    return ((StatusCode)careless.Code, careless);
            }
            return (StatusCode.OK, null);
        }
        catch (RpcException e)
        {
            return (e.StatusCode, e.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)e.StatusCode, Message = e.Status.Detail });
        }
    }

    /// <summary>The accounts, order, payment and hold the valid requests name.</summary>
    private static async Task SeedBankAsync(GrpcChannel channel)
    {
        var accounts = new AccountService.AccountServiceClient(channel);
        foreach (var id in new[] { "fz-acct-1", "fz-acct-2" })
        {
            await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Fuzz {id}", CurrencyCode = "EUR" });
            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 100_000_000, CurrencyCode = "EUR" });
        }
        await accounts.PlaceHoldAsync(new PlaceHoldRequest { AccountId = "fz-acct-1", HoldId = "fz-hold-1", AmountMinor = 100, CurrencyCode = "EUR", Ttl = new() { Seconds = 3_600 } });
        await new OrderService.OrderServiceClient(channel).PlaceOrderAsync(new PlaceOrderRequest
        {
            OrderId = "fz-order-1", CustomerAccountId = "fz-acct-1", MerchantAccountId = "fz-acct-2", AmountMinor = 500, CurrencyCode = "EUR",
        });
        await new PaymentService.PaymentServiceClient(channel).TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = "fz-pay-1", FromAccountId = "fz-acct-2", ToAccountId = "fz-acct-1", AmountMinor = 100, CurrencyCode = "EUR",
        });
    }
}
