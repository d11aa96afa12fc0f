using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl accounts as-of: an account's write-side state at a past time or version.</summary>
public static class AccountsCommand
{
    public static Command Build()
    {
        var accountId = new Argument<string>("account-id") { Description = "The account's id (without the 'account-' stream prefix)" };
        var time = new Option<DateTimeOffset?>("--time")
        {
            Description = "The state after everything recorded at or before this ISO-8601 time (no offset means UTC)",
            HelpName = "ISO-8601",
            CustomParser = ParseTime,
        };
        var version = new Option<long?>("--version")
        {
            Description = "The state after the account's first N events",
            HelpName = "N",
        }.InRange(1);
        var asOf = new Command("as-of", """
            Shows an account as it was: balance with currency, status, version, and when that version was recorded.
            Folded from the account's events on the server, not read from the read side. Give exactly one of --time or --version.

            Examples:
              bankctl accounts as-of ada --version 3
              bankctl accounts as-of ada --time 2025-03-01T12:00:00Z
            """)
        {
            accountId, time, version,
        };
        asOf.Validators.Add(r =>
        {
            var given = (r.GetResult(time) is { Implicit: false } ? 1 : 0) + (r.GetResult(version) is { Implicit: false } ? 1 : 0);
            if (given != 1) r.AddError("give exactly one of --time <ISO-8601> or --version <N>");
        });
        asOf.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var request = new GetAccountAsOfRequest { AccountId = parsed.GetValue(accountId) };
            if (parsed.GetValue(time) is { } at) request.AsOfTime = Timestamp.FromDateTimeOffset(at);
            else request.AsOfVersion = parsed.GetValue(version)!.Value;
            var reply = await new HistoryService.HistoryServiceClient(session.Channel).GetAccountAsOfAsync(request, session.Call(ct));
            if (session.Json)
            {
                await session.Out.WriteLineAsync(Format.Json(reply));
                return ExitCode.Ok;
            }
            await session.Out.WriteLineAsync($"""
                account   {reply.AccountId} ({reply.OwnerName})
                balance   {Format.Money(reply.BalanceMinor, reply.CurrencyCode)}
                status    {Format.Enum(reply.Status)}
                version   {reply.Version}
                as of     {Format.Time(reply.AsOf)}
                """);
            return ExitCode.Ok;
        }));
        return new Command("accounts", "Looks at accounts through their history.\n\nExample:\n  bankctl accounts as-of ada --version 3") { asOf };
    }

    private static DateTimeOffset? ParseTime(ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            return at;
        result.AddError($"--time '{text}' is not an ISO-8601 time such as 2025-03-01T12:00:00Z");
        return null;
    }
}
