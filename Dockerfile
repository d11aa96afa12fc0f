# The GrpcBank server. Build from the repository root: docker build -t grpcbank .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/GrpcBank.Server -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# Embedded files (the read store when Elasticsearch is not configured) live here.
ENV Storage__DataDirectory=/data
# The collector's young generation, 64 MiB (hexadecimal; the runtime reads it only from the environment). Left to the
# runtime it follows the CPU's cache size, and on a machine that does not report one it stayed near 1.5 MB: collected
# every few milliseconds under load, so the objects of commands and batches still in flight outlived it and were
# collected again when older (README, "Benchmarks"; the bench starts its server with the DOTNET_ variables set here).
ENV DOTNET_GCgen0size=0x4000000
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["dotnet", "GrpcBank.Server.dll", "--urls", "http://0.0.0.0:8080"]
