using System.Reflection;
using Google.Rpc;
using Grpc.AspNetCore.Server;
using Grpc.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Server reflection (buf curl, grpcurl) over every mapped service, plus the google.rpc error details. A batch result's
/// error is a google.rpc.Status whose details (ErrorInfo, BadRequest) are packed in Any: a client that learns the schema
/// by reflection cannot resolve their types from the services' own files, and then prints no part of the reply.
/// </summary>
public static class ServerReflection
{
    public static void AddServerReflection(this IServiceCollection services)
    {
        services.AddGrpcReflection();
        // Registered after the library's own, so these are the ones resolved (v1alpha and v1 of the protocol).
        services.AddSingleton(provider =>
        {
            var (names, registry) = Schema(provider);
            return new ReflectionServiceImpl(names, registry);
        });
        services.AddSingleton(provider =>
        {
            var (names, registry) = Schema(provider);
            return new ReflectionV1ServiceImpl(names, registry);
        });
    }

    private static (IEnumerable<string> Services, SymbolRegistry Registry) Schema(IServiceProvider provider)
    {
        var services = provider.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(endpoint => endpoint.Metadata.GetMetadata<GrpcMethodMetadata>()?.ServiceType)
            .OfType<Type>().Distinct().Select(DescriptorOf).OfType<ServiceDescriptor>().ToList();
        var files = services.Select(service => service.File).Append(ErrorDetailsReflection.Descriptor).Distinct();
        return (services.Select(service => service.FullName), SymbolRegistry.FromFiles(files));
    }

    /// <summary>A service derives from the generated <c>Foo.FooBase</c>, nested in the static class <c>Foo</c> that holds its descriptor.</summary>
    private static ServiceDescriptor? DescriptorOf(Type implementation)
    {
        for (var type = implementation; type is not null; type = type.BaseType)
            if (type.DeclaringType?.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)
                ?.GetValue(null) is ServiceDescriptor descriptor)
                return descriptor;
        return null;
    }
}
