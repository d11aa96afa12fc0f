using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using LanguageExt;

namespace GrpcBank.Bench;

/// <summary>Account decide/evolve and event (de)serialization, in process.</summary>
[MemoryDiagnoser]
public class AccountMicro
{
    private static readonly AccountState Open = new(AccountStatus.Active, "b-000001", "Ada Lovelace", "EUR", 1_000_000);
    private static readonly AccountCommand Deposit = new AccountCommand.DepositMoney("b-000001", 4_242, "EUR", "salary");
    private static readonly AccountCommand Withdraw = new AccountCommand.WithdrawMoney("b-000001", 4_242, "EUR", "rent");
    private static readonly AccountCommand Overdraw = new AccountCommand.WithdrawMoney("b-000001", 9_999_999, "EUR", "car");
    private static readonly AccountEvent Deposited = new AccountEvent.MoneyDeposited("b-000001", 4_242, "EUR", "salary");
    private static readonly (string Type, string Json) Encoded = EventCodecs.Accounts.Encode(Deposited);
    private static readonly AccountEvent[] Thousand =
        [new AccountEvent.AccountOpened("b-000001", "Ada Lovelace", "EUR"), .. Enumerable.Repeat(Deposited, 999)];
    private static readonly RecordedEvent[] ThousandStored = Thousand
        .Select((e, i) => { var (t, j) = EventCodecs.Accounts.Encode(e); return new RecordedEvent(i + 1, "account-b-000001", i + 1, Guid.NewGuid(), t, j, "{}", DateTimeOffset.UnixEpoch); })
        .ToArray();

    [Benchmark]
    public Either<GrpcBank.Domain.Rejection, Seq<AccountEvent>> DecideDeposit() => Account.Decide(Deposit, Open);

    [Benchmark]
    public Either<GrpcBank.Domain.Rejection, Seq<AccountEvent>> DecideWithdraw() => Account.Decide(Withdraw, Open);

    [Benchmark]
    public Either<GrpcBank.Domain.Rejection, Seq<AccountEvent>> DecideRejected() => Account.Decide(Overdraw, Open);

    [Benchmark]
    public AccountState EvolveDeposit() => Account.Evolve(Open, Deposited);

    [Benchmark]
    public AccountState Fold1000Events()
    {
        var s = AccountState.Initial;
        foreach (var e in Thousand) s = Account.Evolve(s, e);
        return s;
    }

    [Benchmark]
    public (string, string) EncodeDeposited() => EventCodecs.Accounts.Encode(Deposited);

    [Benchmark]
    public AccountEvent DecodeDeposited() => EventCodecs.Accounts.Decode(Encoded.Type, Encoded.Json);

    /// <summary>What the command handler does per event when it loads a stream: decode, then evolve.</summary>
    [Benchmark]
    public AccountState DecodeAndFold1000Stored()
    {
        var s = AccountState.Initial;
        foreach (var e in ThousandStored) s = Account.Evolve(s, EventCodecs.Accounts.Decode(e));
        return s;
    }
}

public static class Micro
{
    public const string Begin = "<!-- micro:begin -->";
    public const string End = "<!-- micro:end -->";

    /// <summary>Runs the micro-benchmarks (ShortRun unless other BenchmarkDotNet arguments are given) and puts their table into BENCHMARKS.md.</summary>
    public static void Run(string root, string[] args)
    {
        var config = DefaultConfig.Instance.AddExporter(MarkdownExporter.GitHub);
        if (args.Length == 0) config = config.AddJob(Job.ShortRun);
        var summary = BenchmarkRunner.Run<AccountMicro>(config, args);
        var table = Directory.GetFiles(summary.ResultsDirectoryPath, "*AccountMicro-report-github.md").FirstOrDefault();
        if (table is null) { Console.Error.WriteLine("no BenchmarkDotNet report found"); return; }
        var section = $"{Begin}\n## Micro-benchmarks (BenchmarkDotNet, `-- micro`)\n\nRun {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. " +
            "Fold1000Events and DecodeAndFold1000Stored show the cost a cold command pays per 1,000 events of history " +
            "(the handler also reads them from the store in pages of 1,000).\n\n" + File.ReadAllText(table).Trim() + $"\n{End}\n";
        var path = Path.Combine(root, "BENCHMARKS.md");
        var text = File.Exists(path) ? File.ReadAllText(path) : "";
        File.WriteAllText(path, Splice(text, section));
        Console.WriteLine($"micro-benchmark table written into {path}");
    }

    public static string Splice(string text, string section)
    {
        var b = text.IndexOf(Begin, StringComparison.Ordinal);
        var e = text.IndexOf(End, StringComparison.Ordinal);
        return b >= 0 && e > b ? text[..b] + section.TrimEnd('\n') + text[(e + End.Length)..] : text.TrimEnd() + (text.Length > 0 ? "\n\n" : "") + section;
    }

    public static string? Existing(string path)
    {
        if (!File.Exists(path)) return null;
        var text = File.ReadAllText(path);
        var b = text.IndexOf(Begin, StringComparison.Ordinal);
        var e = text.IndexOf(End, StringComparison.Ordinal);
        return b >= 0 && e > b ? text[b..(e + End.Length)] + "\n" : null;
    }
}
