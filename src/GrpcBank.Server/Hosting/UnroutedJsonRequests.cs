using Grpc.Core;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// A request on the JSON endpoint that no route takes gets a google.rpc.Status body like every other JSON API error, not
/// ASP.NET Core's empty 404 or 405 (a client reads every error the same way): NOT_FOUND for a path no route has;
/// UNIMPLEMENTED, the gRPC code of a method the server does not have, for a method its path's routes do not take. That
/// one keeps HTTP's 405 and its Allow header, which say more than gRPC's mapping of UNIMPLEMENTED (501) would.
/// </summary>
internal static class UnroutedJsonRequests
{
    public static async Task AnswerAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (context.Response.HasStarted || context.Response.ContentLength > 0) return;
        var (method, path) = (context.Request.Method, context.Request.Path);
        var status = context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => new Google.Rpc.Status
            {
                Code = (int)StatusCode.NotFound, Message = $"no route of this API is {method} {path} (they are listed in {JsonApi.OpenApiPath})",
            },
            StatusCodes.Status405MethodNotAllowed => new Google.Rpc.Status
            {
                Code = (int)StatusCode.Unimplemented, Message = $"{path} takes {context.Response.Headers.Allow}, not {method}",
            },
            _ => null,
        };
        if (status is not null) await JsonStatus.WriteAsync(context, status, context.Response.StatusCode);
    }
}
