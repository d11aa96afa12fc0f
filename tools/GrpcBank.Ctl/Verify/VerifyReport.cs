using System.Text.Json;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Verify;

/// <summary>
/// One thing verify found wrong. Check: account, order or payment (the read side disagrees), stream (versions),
/// feed (positions) or money (invariants). ReadSide is null where the read side is not involved.
/// </summary>
public sealed record Problem(string Check, string Subject, string Field, string WriteSide, string? ReadSide, string Detail)
{
    public static Problem Of(string check, string subject, string field, string writeSide, string detail) =>
        new(check, subject, field, writeSide, null, detail);

    public static Problem Drift(string kind, string id, string field, string writeSide, string readSide) =>
        new(kind, $"{kind} {id}", field, writeSide, readSide, $"write side {writeSide}, read side {readSide}");
}

/// <summary>How many of each kind were compared with the read side, and how many changed after the cut (skipped).</summary>
public sealed record Checked(int Accounts, int Orders, int Payments, int ChangedSinceHead);

/// <summary>Everything verify found, printed for people or as one JSON object.</summary>
public sealed record VerifyReport(
    long HeadPosition, string HeadFrom, long Events, Checked Checked, MoneyCheck Money, IReadOnlyList<Problem> Problems)
{
    public bool Clean => Problems.Count == 0;

    public void WriteText(TextWriter o)
    {
        o.WriteLine($"Verified {Format.Count(Events)} events up to position {HeadPosition} ({HeadFrom})");
        o.WriteLine($"  accounts  {Checked.Accounts,5} folded and compared with the read side (owner, currency, balance, status, version)");
        o.WriteLine($"  orders    {Checked.Orders,5} folded and compared (parties, amount, payment, status, version)");
        o.WriteLine($"  payments  {Checked.Payments,5} folded and compared (parties, amount, public status, version)");
        o.WriteLine($"  movements {Money.PaymentsWithMovements,5} payments' money movements tallied; money in flight in {Money.InFlight.Count} (must be 0)");
        if (Checked.ChangedSinceHead > 0)
            o.WriteLine($"  skipped   {Checked.ChangedSinceHead,5} changed after position {HeadPosition} (verify again to check them)");
        foreach (var c in Money.Currencies)
            o.WriteLine($"  {c.CurrencyCode}  balances {Format.Money(c.BalancesMinor, c.CurrencyCode)} = deposits {Format.Money(c.DepositsMinor, c.CurrencyCode)}"
                + $" − withdrawals {Format.Money(c.WithdrawalsMinor, c.CurrencyCode)}"
                + (c.InFlightMinor != 0 ? $" + in flight {Format.Money(c.InFlightMinor, c.CurrencyCode)}" : "")
                + (c.UnexplainedMinor != 0 ? $"  ✗ off by {Format.Money(c.UnexplainedMinor, c.CurrencyCode)}" : "  ✓"));
        foreach (var f in Money.InFlight)
            o.WriteLine($"IN FLIGHT  payment {f.PaymentId}  {f.Status}: {f.Movements}");
        foreach (var p in Problems)
            o.WriteLine($"DRIFT  {p.Subject}  {p.Field}: {p.Detail}");
        o.WriteLine(Clean
            ? "Verdict: clean. The read side matches the event store, and the money adds up."
            : $"Verdict: DRIFT. {Problems.Count} problem{(Problems.Count == 1 ? "" : "s")} found (exit 4).");
    }

    public string ToJson() => JsonSerializer.Serialize(new
    {
        clean = Clean,
        headPosition = HeadPosition,
        headFrom = HeadFrom,
        events = Events,
        @checked = Checked,
        currencies = Money.Currencies.Select(c => new
        {
            currencyCode = c.CurrencyCode, balancesMinor = c.BalancesMinor, depositsMinor = c.DepositsMinor,
            withdrawalsMinor = c.WithdrawalsMinor, inFlightMinor = c.InFlightMinor, unexplainedMinor = c.UnexplainedMinor,
        }),
        paymentsWithMovements = Money.PaymentsWithMovements,
        inFlight = Money.InFlight,
        problems = Problems,
    }, JsonOptions);

    // Details quote names and use − and ≠: keep them readable rather than \u-escaped (this is not HTML).
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
