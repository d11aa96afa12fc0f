using GrpcBank.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Specs whose bank runs on the spec's <see cref="Clock"/> (start the host with <see cref="WithClock"/>), so holds expire when the spec says.</summary>
public abstract class ClockedBankSpecs : BankSpecs
{
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 1, 28, 22, 0, 0, TimeSpan.Zero));

    protected void WithClock(WebApplicationBuilder builder) => builder.Services.AddSingleton<TimeProvider>(Clock);
}
