using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Domain.Accounts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// This release started on the embedded data directory the previous release (36ff84f) left behind after a SIGTERM
/// (tests/fixtures/data-directory-v1: its events.db, its read.db of read-store schema 5, its page-token key, and
/// account snapshots of fold version 1 at versions 100 and 200): it rebuilds the read side, answers every question as
/// that release did (but for the searches this release answers better), ignores the old snapshots and replaces them,
/// and takes commands on.
/// </summary>
public sealed class DataDirectoryUpgradeSpecs
{
    // The previous release's account snapshots (AccountState, fold version 1), as its snapshots table names them.
    private const string PreviousSnapshotSchema = "AccountState.v1.d82b31181c1a";

    // The searches whose answers differ from the previous release's, each for a reason this release gives.
    private static readonly Dictionary<(string Method, string Query), string[]> Improved = new()
    {
        // Typo tolerance beside a letter with no decomposition (ø folds to o now, as unaccent and FTS5 fold it).
        [("bank.query.v1.QueryService.SearchAccounts", "lindstrøm")] = ["asa"],
        // Letters beyond the BMP are whole words now (the previous release split them at the surrogates: found nothing).
        [("bank.query.v1.QueryService.SearchAccounts", "𠮷田")] = ["yoshida"],
        [("bank.query.v1.QueryService.SearchOrders", "𠮷田")] = ["o-open"],
        // "Zoë Kravitz" and "Zoe Saldana" match "zoe" alike now (the typo vocabulary has folded words): ties by id.
        [("bank.query.v1.QueryService.SearchAccounts", "zoe")] = ["zoe", "zoe2"],
    };

    // After the previous release's last write (2026-12-08T00:11:58Z), long before its holds (30 days) expire: on the real
    // clock the bank's expiry process would free them once that date has passed, and the answers would move with it.
    private readonly ManualClock clock = new(new DateTimeOffset(2026, 12, 8, 1, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task ThePreviousReleasesDataDirectory_RebuildsItsReadSide_AndAnswersEveryQuestionAsThatReleaseDid()
    {
        await using var host = await UpgradedAsync();

        // The fixture's read.db was of read-store schema 5: replaced by this release's and filled from all 333 events.
        Assert.Equal(7L, ReadStoreSchema(host));
        var recorded = Answers();
        Assert.Equal(103, recorded.Count);
        foreach (var entry in recorded)
        {
            var (method, request, expected) = Question(entry);
            var answered = JsonNode.Parse(JsonFormatter.Default.Format(await AskAsync(host, method, request)))!;
            if (Improved.TryGetValue((method.FullName, request.Descriptor.FindFieldByName("query") is { } q ? (string)q.Accessor.GetValue(request) : ""), out var ids))
            {
                Assert.Equal(ids, Ids(answered));
                continue;
            }
            Assert.True(JsonNode.DeepEquals(expected, answered),
                $"{method.FullName} {JsonFormatter.Default.Format(request)} answered\n{answered}\nwhere the previous release answered\n{expected}");
        }
    }

    [Fact]
    public async Task AfterTheUpgrade_TheOldSnapshotsAreReplaced_CommandsGoOn_AndARestartFoldsFromTheNewSnapshot()
    {
        await using var host = await UpgradedAsync();
        var bank = new Bank(host);
        var holderBefore = await bank.AccountAsync("holder");
        var adaBefore = await bank.AccountAsync("ada");
        var shopBefore = await bank.AccountAsync("shop");
        Assert.Equal((257L + 1, 5 * (100 + 128) + 777), (holderBefore.Version, holderBefore.BalanceMinor - holderBefore.AvailableMinor));

        // A hold the previous release placed, captured in part (the rest freed); another released; its open order fulfilled; a transfer.
        var captured = await bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = "holder", HoldId = "h-126", AmountMinor = 100 });
        await bank.Accounts.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = "holder", HoldId = "h-127" });
        var fulfilled = await bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = "o-open" });
        var moved = await bank.Payments.TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = "t-after-upgrade", FromAccountId = "ada", ToAccountId = "holder", AmountMinor = 1_000, CurrencyCode = "EUR",
        });

        Assert.Equal(259, captured.Version);
        var at = Math.Max(fulfilled.Position, moved.Position);
        var holder = await bank.AccountAsync("holder", at);
        Assert.Equal((262L, holderBefore.BalanceMinor - 100 - 777 + 1_000, 228 + 229 + 230),
            (holder.Version, holder.BalanceMinor, holder.BalanceMinor - holder.AvailableMinor));
        Assert.Equal(adaBefore.BalanceMinor - 1_000, (await bank.AccountAsync("ada", at)).BalanceMinor);
        Assert.Equal(shopBefore.BalanceMinor + 777, (await bank.AccountAsync("shop", at)).BalanceMinor);
        Assert.Equal(OrderStatus.Paid, (await bank.Query.GetOrderAsync(new GetOrderRequest { OrderId = "o-open", MinPosition = at })).Order.Status);

        // The first fold of the stream passed two multiples of 100 from nothing: it saved this release's snapshot, and
        // that save removed the previous release's two below it.
        var snapshots = host.Get<IEventStore>().Snapshots;
        var saved = await Bank.EventuallyAsync(() => snapshots.LoadAsync("account-holder", SnapshotSchema<AccountState>.Name, long.MaxValue, CancellationToken.None));
        Assert.Equal(258, saved.Version);
        Assert.Null(await snapshots.LoadAsync("account-holder", PreviousSnapshotSchema, long.MaxValue, CancellationToken.None));

        // Restarted, the stream is folded from that snapshot: the same account, its history and its holds as before.
        await host.RestartAsync();
        var restarted = new Bank(host);
        var again = await restarted.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = "holder", HoldId = "h-128", AmountMinor = 28 });
        Assert.Equal((263L, holder.BalanceMinor - 28, holder.HeldMinor - 228), (again.Version, again.BalanceMinor, again.HeldMinor));
        foreach (var entry in Answers().Where(a => (string)a["method"]! == "bank.history.v1.HistoryService.GetAccountAsOf"))
        {
            var (method, request, expected) = Question(entry);
            Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(JsonFormatter.Default.Format(await AskAsync(host, method, request)))),
                $"{JsonFormatter.Default.Format(request)} differs from the previous release's answer");
        }
    }

    [Fact]
    public async Task APageTokenTheOldReleaseHandedOut_PagesOn_AndARequestItLogged_GetsItsFirstReplyWhenRetried()
    {
        await using var host = await UpgradedAsync();
        var bank = new Bank(host);
        var answers = Answers().Select(Question).ToList();
        var firstPage = answers.Single(a => a.Request is SearchAccountsRequest { PageSize: 4 });
        var everyone = answers.Single(a => a.Request is SearchAccountsRequest { PageSize: 100, OrderBy: "owner_name" });

        // Signed with the key the old release kept in the data directory (page-token.key).
        var next = await bank.Query.SearchAccountsAsync(new SearchAccountsRequest
        {
            OrderBy = "owner_name", PageSize = 4, PageToken = (string)firstPage.Response["nextPageToken"]!,
        });
        Assert.Equal(Ids(everyone.Response).Skip(4).Take(4), next.Accounts.Select(a => a.AccountId));

        // The old release's first deposit to ada, its request id logged then: answered as then, nothing written.
        var retried = await bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = "ada", AmountMinor = 100_000, CurrencyCode = "EUR", Reference = "opening", RequestId = "open-ada",
        });
        Assert.Equal((2L, 100_000L), (retried.Version, retried.BalanceMinor));
        Assert.Equal(6, (await host.Get<IEventStore>().ReadStreamAsync("account-ada", 1, 1_000, CancellationToken.None)).Count);
    }

    /// <summary>A copy of the fixture's data directory, served by this release on the spec's clock.</summary>
    private async Task<BankHost> UpgradedAsync()
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-upgrade-").FullName;
        foreach (var file in Directory.GetFiles(Fixture)) File.Copy(file, Path.Combine(data, Path.GetFileName(file)));
        File.Delete(Path.Combine(data, "answers.json"));
        File.Delete(Path.Combine(data, "README.md"));
        return await BankHost.StartAsync(new Dictionary<string, string> { ["Storage:DataDirectory"] = data },
            builder => builder.Services.AddSingleton<TimeProvider>(clock));
    }

    private static long ReadStoreSchema(BankHost host)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(host.DataDirectory, "read.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "pragma user_version";
        return (long)command.ExecuteScalar()!;
    }

    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "fixtures", "data-directory-v1");

    private static List<JsonNode> Answers() => JsonNode.Parse(File.ReadAllText(Path.Combine(Fixture, "answers.json")))!.AsArray().Select(n => n!).ToList();

    private static readonly Dictionary<string, MethodDescriptor> Methods =
        new[] { QueryServiceReflection.Descriptor, HistoryServiceReflection.Descriptor }
            .SelectMany(f => f.Services).SelectMany(s => s.Methods).ToDictionary(m => m.FullName);

    private static (MethodDescriptor Method, IMessage Request, JsonNode Response) Question(JsonNode entry)
    {
        var method = Methods[(string)entry["method"]!];
        return (method, JsonParser.Default.Parse(entry["request"]!.ToJsonString(), method.InputType), entry["response"]!);
    }

    private static IEnumerable<string> Ids(JsonNode response) =>
        (response["accounts"] ?? response["orders"])?.AsArray().Select(n => (string)(n!["accountId"] ?? n["orderId"])!) ?? [];

    private static async Task<IMessage> AskAsync(BankHost host, MethodDescriptor method, IMessage request)
    {
        var call = new Method<IMessage, IMessage>(MethodType.Unary, method.Service.FullName, method.Name,
            Marshallers.Create<IMessage>(m => m.ToByteArray(), bytes => method.InputType.Parser.ParseFrom(bytes)),
            Marshallers.Create<IMessage>(m => m.ToByteArray(), bytes => method.OutputType.Parser.ParseFrom(bytes)));
        return await host.Channel.CreateCallInvoker().AsyncUnaryCall(call, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), request);
    }
}
