using System.CommandLine;
using System.Text.Json;
using GrpcBank.Ctl.Cli;
using GrpcBank.Ctl.Seed;

namespace GrpcBank.Ctl.Commands;

/// <summary>bankctl seed: demo data through the public RPCs.</summary>
public static class SeedCommand
{
    public static Command Build()
    {
        var accounts = new Option<int>("--accounts")
        {
            Description = "How many accounts: customers and (one in five) merchants (default 20)", HelpName = "N", DefaultValueFactory = _ => 20,
        }.InRange(4, 10_000);
        var orders = new Option<int>("--orders")
        {
            Description = "How many orders customers place with merchants (default 40)", HelpName = "N", DefaultValueFactory = _ => 40,
        }.InRange(0, 100_000);
        var seed = new Option<int>("--seed")
        {
            Description = "The same seed gives the same bank; running it again changes nothing (default 42)", HelpName = "S", DefaultValueFactory = _ => 42,
        }.InRange(0);
        var command = new Command("seed", """
            Fills the bank with believable demo data through the public RPCs: accounts with owner names (mostly EUR),
            deposits, some withdrawals, orders from customers to merchants (some cancelled for lack of funds),
            transfers between customers and one refund. Ids start with s<seed>- (s42-c001, s42-m001, s42-o001, s42-t001).
            Every command carries a request id derived from the seed, so running the same seed again changes nothing;
            use another --seed for more data.

            Example:
              bankctl seed --accounts 20 --orders 40 --seed 7
            """)
        {
            accounts, orders, seed,
        };
        command.SetAction((parsed, ct) => Session.RunAsync(parsed, ct, async session =>
        {
            var summary = await new DemoBank(session, parsed.GetValue(accounts), parsed.GetValue(orders), parsed.GetValue(seed), ct).RunAsync();
            if (session.Json)
            {
                await session.Out.WriteLineAsync(JsonSerializer.Serialize(summary, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
                return ExitCode.Ok;
            }
            var byCurrency = string.Join(", ", summary.AccountsByCurrency.Select(kv => $"{kv.Value} {kv.Key}"));
            var output = session.Out;
            await output.WriteLineAsync($"Seeded {summary.Customers + summary.Merchants} accounts ({summary.Customers} customers, {summary.Merchants} merchants; {byCurrency})");
            await output.WriteLineAsync($"  {summary.Deposits} deposits, {summary.Withdrawals} withdrawals");
            await output.WriteLineAsync($"  {summary.OrdersPaid + summary.OrdersCancelled} orders: {summary.OrdersPaid} paid, {summary.OrdersCancelled} declined for want of funds (nothing held)");
            await output.WriteLineAsync($"  {summary.Transfers} transfers, {summary.Refunds} refund");
            await output.WriteLineAsync($"  last position {summary.LastPosition}");
            await output.WriteLineAsync("Try:");
            await output.WriteLineAsync($"  bankctl streams read account-{summary.ExampleCustomer}");
            await output.WriteLineAsync($"  bankctl accounts as-of {summary.ExampleCustomer} --version 2");
            if (summary.ExampleCancelledOrder is { } cancelled) await output.WriteLineAsync($"  bankctl streams read order-{cancelled}");
            if (summary.ExampleRefundedPayment is { } refunded) await output.WriteLineAsync($"  bankctl streams read payment-{refunded}");
            await output.WriteLineAsync($"  bankctl subscribe --prefix payments. --max 10");
            return ExitCode.Ok;
        }));
        return command;
    }
}
