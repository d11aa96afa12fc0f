using System.Security.Claims;
using System.Threading.RateLimiting;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GrpcBank.Server.Security;

/// <summary>
/// Bearer API keys, roles per service, and a request rate per key. Missing or unknown key: UNAUTHENTICATED;
/// a role that may not call the service: PERMISSION_DENIED; over the rate: RESOURCE_EXHAUSTED.
/// The caller's name becomes the principal recorded in event metadata.
/// </summary>
public sealed class AuthInterceptor(ApiKeys keys, PartitionedRateLimiter<string> limiter) : Interceptor
{
    private static readonly Dictionary<string, Role> RoleByService = new()
    {
        ["bank.accounts.v1.AccountService"] = Role.Teller,
        ["bank.orders.v1.OrderService"] = Role.Teller,
        ["bank.payments.v1.PaymentService"] = Role.Teller,
        ["bank.query.v1.QueryService"] = Role.Auditor,
        ["bank.history.v1.HistoryService"] = Role.Auditor,
        ["bank.admin.v1.ProjectionService"] = Role.Admin,
    };

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        using var lease = Admit(context);
        return continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var lease = Admit(context);
        await continuation(request, responseStream, context);
    }

    private RateLimitLease Admit(ServerCallContext context)
    {
        var service = context.Method.Split('/', StringSplitOptions.RemoveEmptyEntries)[0];
        var caller = "anonymous";
        if (RoleByService.TryGetValue(service, out var role) && !keys.IsOpen)
        {
            var key = keys.FromAuthorization(context.RequestHeaders.GetValue("authorization"))
                ?? throw new RpcException(new Status(StatusCode.Unauthenticated, ApiKeys.Missing));
            if (!key.Roles.Contains(role))
                throw new RpcException(new Status(StatusCode.PermissionDenied,
                    $"{service} needs the {role.ToString().ToLowerInvariant()} role; key '{key.Name}' has {string.Join(", ", key.Roles).ToLowerInvariant()}"));
            caller = key.Name;
            context.GetHttpContext().User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, caller)], "ApiKey"));
        }
        var lease = limiter.AttemptAcquire(caller);
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        throw new RpcException(new Status(StatusCode.ResourceExhausted, $"too many requests for '{caller}'; slow down and retry"));
    }
}
