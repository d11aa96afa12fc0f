using Google.Protobuf.Reflection;
using Google.Rpc;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.OpenApi.Models;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// JSON over HTTP/1.1 beside gRPC (README, "Integrate over HTTP"): <c>JsonApi:Url</c> (e.g. <c>http://127.0.0.1:8080</c>)
/// adds an endpoint where the routes of the protos' <c>google.api.http</c> options call the same gRPC services, through
/// the same interceptors (keys, roles, rate limits, validation, errors as <c>google.rpc.Status</c> JSON). Off by default.
/// The OpenAPI document generated from the protos is served there at <see cref="OpenApiPath"/>.
/// </summary>
public static class JsonApi
{
    public const string OpenApiPath = "/openapi/v1.json";

    /// <summary>Errors carry google.rpc details (ErrorInfo, BadRequest) packed in Any: JSON needs their descriptors to write them.</summary>
    public static readonly TypeRegistry ErrorDetailTypes = TypeRegistry.FromFiles(ErrorDetailsReflection.Descriptor);

    public static void AddJsonApi(this WebApplicationBuilder builder, IReadOnlyList<string> grpcUrls)
    {
        if (builder.Configuration["JsonApi:Url"] is not { Length: > 0 } url) return;
        builder.AddHttp1Endpoint("JsonApi", url, grpcUrls);
        builder.Services.AddGrpc().AddJsonTranscoding(o =>
        {
            o.TypeRegistry = ErrorDetailTypes;
            // Proto3 JSON proper: int64 (minor units, positions) as strings, which JavaScript reads without losing digits.
            o.JsonSettings.WriteInt64sAsStrings = true;
        });
        builder.Services.AddGrpcSwagger();
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new() { Title = "GrpcBank", Version = "v1" });
            // The RPC's name (unique across the services), so a generated client's methods are named as the gRPC ones.
            o.CustomOperationIds(api => api.ActionDescriptor.EndpointMetadata.OfType<GrpcMethodMetadata>().FirstOrDefault()?.Method.Name);
            // The protos' comments as the operations' and fields' descriptions (published beside the server; a build
            // without the file serves the document without them).
            if (Path.Combine(AppContext.BaseDirectory, "GrpcBank.Contracts.xml") is var docs && File.Exists(docs))
                o.IncludeGrpcXmlComments(docs, includeControllerXmlComments: true);
            o.SchemaFilter<Int64AsString>();
            o.SchemaFilter<ErrorDetailSchema>();
            o.DocumentFilter<UnusedSchemas>();
        });
    }

    /// <summary>
    /// Keeps the JSON routes and the OpenAPI document on the JSON endpoint (the gRPC port stays gRPC only), refuses a
    /// request the transcoder would misread or refuse without naming its field (<see cref="JsonRequestDecoding"/>), and
    /// answers one no route takes with a status body (<see cref="UnroutedJsonRequests"/>).
    /// </summary>
    public static void UseJsonApi(this WebApplication app)
    {
        if (app.Configuration["JsonApi:Url"] is not { Length: > 0 } url) return;
        var port = BindingAddress.Parse(url).Port;
        var decoding = new JsonRequestDecoding(app.Services.GetRequiredService<Security.Authenticator>(), app.Services.GetRequiredService<ILogger<JsonRequestDecoding>>());
        var protectedMode = app.Services.GetRequiredService<Security.ProtectedMode>();
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not { } route)
                await next(context);
            else if (context.Connection.LocalPort != port)
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            else if (protectedMode.RefusalOf(context) is { } foreignHost) // without keys, a browser's rebound name (ProtectedMode)
                await JsonStatus.WriteAsync(context, foreignHost);
            else if (!await decoding.RefusedAsync(context, route))
                await next(context);
        });
        app.UseWhen(context => context.Connection.LocalPort == port, json =>
        {
            json.Use(UnroutedJsonRequests.AnswerAsync);
            json.UseSwagger(o => o.RouteTemplate = "openapi/{documentName}.json");
        });
    }
}

/// <summary>
/// The JSON API writes int64 values (minor units, positions) as strings, as proto3 JSON has them, and reads strings or
/// numbers: the OpenAPI document says string, or a client generated from it would expect numbers.
/// </summary>
internal sealed class Int64AsString : ISchemaFilter
{
    public void Apply(OpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is { Type: "integer", Format: "int64" or "uint64" }) schema.Type = "string";
    }
}
