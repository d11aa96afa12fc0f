using System.CommandLine;

namespace GrpcBank.Ctl.Cli;

/// <summary>Numeric options that must lie in a range: a value outside is a usage error (exit 2) naming the option.</summary>
public static class OptionRange
{
    public static TOption InRange<TOption>(this TOption option, long min, long max = long.MaxValue) where TOption : Option
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0 || !long.TryParse(r.Tokens[^1].Value, out var value) || (value >= min && value <= max)) return;
            r.AddError(max != long.MaxValue ? $"{option.Name} must be between {min} and {max}"
                : min == 0 ? $"{option.Name} must not be negative" : $"{option.Name} must be at least {min}");
        });
        return option;
    }
}
