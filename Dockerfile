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
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["dotnet", "GrpcBank.Server.dll", "--urls", "http://0.0.0.0:8080"]
