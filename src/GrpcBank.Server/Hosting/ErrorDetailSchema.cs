using Microsoft.OpenApi.Models;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The OpenAPI document describes an error's details (google.protobuf.Any) as what is sent: an object naming its message
/// by <c>@type</c>, with that message's fields beside it (ErrorInfo's <c>reason</c>, BadRequest's <c>fieldViolations</c>).
/// Generated from the C# types, each other property had to be a <c>Value</c>, a closed object of the C# class's members
/// (<c>hasNullValue</c>, <c>kindCase</c>, …), so no real detail validated against it.
/// </summary>
internal sealed class ErrorDetailSchema : ISchemaFilter
{
    public void Apply(OpenApiSchema schema, SchemaFilterContext context)
    {
        if (context.Type != typeof(Google.Protobuf.WellKnownTypes.Any)) return;
        schema.Description = "An error detail (google.rpc.ErrorInfo, google.rpc.BadRequest, …): \"@type\" names its message, "
            + "whose fields are its other properties, in proto3 JSON.";
        schema.AdditionalPropertiesAllowed = true;
        schema.AdditionalProperties = null;
    }
}
