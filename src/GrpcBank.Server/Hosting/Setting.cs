namespace GrpcBank.Server.Hosting;

/// <summary>
/// A typed setting, or its default when it is not set. A value that does not convert (<c>1s</c> for a time span,
/// <c>yes</c> for a flag) refuses to start, naming the setting, the value and the form it takes: the configuration
/// binder's own exception was an unhandled abort at start-up, or INTERNAL on every call that first read the setting.
/// </summary>
public static class Setting
{
    public static T Of<T>(IConfiguration configuration, string key, T fallback)
    {
        try
        {
            return configuration.GetValue(key, fallback)!;
        }
        catch (InvalidOperationException e) when (e.InnerException is FormatException or ArgumentException or OverflowException)
        {
            throw new StartupRefusedException($"{PathOf(configuration, key)} '{configuration[key]}' is not {FormOf(typeof(T))}", e);
        }
    }

    /// <summary>
    /// <see cref="Of{T}"/> for an interval, a rate or a cap, which must be above <paramref name="floor"/>: a zero interval
    /// polled in a tight loop, a negative one failed every wait (or, at -1 ms, never ended), a zero rate overflowed at
    /// start-up or failed every call, and a cap of zero refused everything it counts. With <paramref name="atMost"/>, also
    /// at most its value, refused with its reason: a value past what the code using it can take.
    /// </summary>
    public static T Above<T>(IConfiguration configuration, string key, T fallback, T floor, (T Value, string Why)? atMost = null)
        where T : IComparable<T>
    {
        var value = Of(configuration, key, fallback);
        if (value.CompareTo(floor) <= 0)
            throw new StartupRefusedException($"{PathOf(configuration, key)} '{configuration[key]}' is not {FormOf(typeof(T))} above {floor}");
        return atMost is { } ceiling ? AtMost(configuration, key, value, ceiling) : value;
    }

    /// <summary>
    /// The longest time span <see cref="Task.Delay(TimeSpan)"/>, <see cref="Task.WaitAsync(TimeSpan)"/> and timers take:
    /// <see cref="uint.MaxValue"/> - 1 milliseconds (49.17:02:47.294). A longer one started a server whose every wait on it
    /// threw ArgumentOutOfRangeException at run time (the relay, for one, failed and backed off each time it fell idle).
    /// </summary>
    public static readonly TimeSpan LongestWait = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// A time span the server waits for (a poll interval, a pause): above zero, or from zero when
    /// <paramref name="zeroIsNoPause"/>, and at most <see cref="LongestWait"/>. A negative pause is refused too: it was
    /// taken as no pause at all, which is what 0 says.
    /// </summary>
    public static TimeSpan Wait(IConfiguration configuration, string key, TimeSpan fallback, bool zeroIsNoPause = false)
    {
        var value = zeroIsNoPause ? Of(configuration, key, fallback) : Above(configuration, key, fallback, TimeSpan.Zero);
        if (value < TimeSpan.Zero)
            throw new StartupRefusedException($"{PathOf(configuration, key)} '{configuration[key]}' is not {FormOf(typeof(TimeSpan))} of 00:00:00 or more");
        return AtMost(configuration, key, value, (LongestWait, "the longest wait .NET's timers take"));
    }

    private static T AtMost<T>(IConfiguration configuration, string key, T value, (T Value, string Why) ceiling) where T : IComparable<T> =>
        value.CompareTo(ceiling.Value) <= 0
            ? value
            : throw new StartupRefusedException(
                $"{PathOf(configuration, key)} '{configuration[key]}' is not {FormOf(typeof(T))} of at most {ceiling.Value} ({ceiling.Why})");

    /// <summary>
    /// An enum's member by its name (any case) only: <see cref="Enum.TryParse{TEnum}(string, bool, out TEnum)"/> also
    /// takes numbers, defined or not, so "5" made an API key with a role that grants nothing and "1" a read store kind.
    /// </summary>
    public static bool TryName<TEnum>(string text, out TEnum value) where TEnum : struct, Enum
    {
        value = default;
        return Enum.GetNames<TEnum>().Contains(text, StringComparer.OrdinalIgnoreCase) && Enum.TryParse(text, ignoreCase: true, out value);
    }

    /// <summary>
    /// A URL setting's value as a refusal may show it: the user and password before its host (the part up to the last
    /// '@') left out, for a refusal is printed and logged, and a URL of the wrong form may still carry a password.
    /// </summary>
    public static string WithoutCredentials(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0)
            return $"{uri.Scheme}://…@{uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.UriEscaped)}";
        return url.LastIndexOf('@') is var at and >= 0 ? $"…{url[at..]}" : url;
    }

    private static string PathOf(IConfiguration configuration, string key) =>
        configuration is IConfigurationSection section ? ConfigurationPath.Combine(section.Path, key) : key;

    private static string FormOf(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(TimeSpan) => "a time span (hh:mm:ss, e.g. 00:00:01 for one second)",
        var t when t == typeof(bool) => "true or false",
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t => $"a {t.Name}",
    };
}
