using Microsoft.OpenApi.Models;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The OpenAPI document lists only the schemas its operations reach. Generated from the C# types, it also listed what
/// only the replaced error-detail schema referred to (google.protobuf.Value, Struct, ListValue, NullValue: see
/// <see cref="ErrorDetailSchema"/>), which no request or response carries and a generated client would turn into dead types.
/// </summary>
internal sealed class UnusedSchemas : IDocumentFilter
{
    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        var schemas = document.Components.Schemas;
        var reached = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<OpenApiSchema>(document.Paths.Values.SelectMany(path => path.Operations.Values).SelectMany(SchemasOf));
        while (pending.TryPop(out var schema))
        {
            if (schema.Reference is { Id: var id })
            {
                if (reached.Add(id) && schemas.TryGetValue(id, out var referenced)) pending.Push(referenced);
                continue;
            }
            foreach (var inner in schema.Properties.Values.Concat(schema.AllOf).Concat(schema.AnyOf).Concat(schema.OneOf)
                         .Append(schema.Items).Append(schema.AdditionalProperties).Append(schema.Not).OfType<OpenApiSchema>())
                pending.Push(inner);
        }
        foreach (var unused in schemas.Keys.Where(id => !reached.Contains(id)).ToList()) schemas.Remove(unused);
    }

    private static IEnumerable<OpenApiSchema> SchemasOf(OpenApiOperation operation) =>
        operation.Parameters.Select(p => p.Schema)
            .Concat((operation.RequestBody?.Content.Values ?? []).Select(m => m.Schema))
            .Concat(operation.Responses.Values.SelectMany(r => r.Content.Values).Select(m => m.Schema))
            .OfType<OpenApiSchema>();
}
