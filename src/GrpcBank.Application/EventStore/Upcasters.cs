using System.Text.Json.Nodes;

namespace GrpcBank.Application.EventStore;

/// <summary>Reads an event stored in an older shape as the next one: the stored name it reads, the name it yields, the rewrite.</summary>
public sealed record Upcaster(string From, string To, Func<JsonObject, JsonObject> Rewrite);

/// <summary>
/// Every upcaster, in one place. Stored history is never rewritten: an event keeps the name and JSON it was written
/// with, and is read in the current shape through the chain of upcasters that starts at its name.
/// </summary>
public static class Upcasters
{
    public static readonly IReadOnlyList<Upcaster> All =
    [
        // Before atomic transfers every payment was carried by the payment process step by step, so the v1 events
        // of payments and of their money movements were all settled by the saga. The current shapes record the
        // settlement, and the process drives only saga-settled payments (those it still has in flight included).
        SettledBySaga("payments.PaymentInitiated"),
        SettledBySaga("payments.PaymentCompleted"),
        SettledBySaga("payments.PaymentFailed"),
        SettledBySaga("payments.RefundRequested"),
        SettledBySaga("accounts.PaymentDebited"),
        SettledBySaga("accounts.PaymentCredited"),
        SettledBySaga("accounts.RefundDebited"),
        SettledBySaga("accounts.RefundCredited"),
    ];

    private static Upcaster SettledBySaga(string name) =>
        new($"{name}.v1", $"{name}.v2", json =>
        {
            json["settlement"] = "saga";
            return json;
        });
}
