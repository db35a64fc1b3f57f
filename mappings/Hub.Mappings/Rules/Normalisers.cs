using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Newtonsoft.Json.Linq;
using PhoneNumbers;

namespace Hub.Mappings.Rules;

/// <summary>
/// The normalisers behind <c>@phone</c>, <c>@email</c>, <c>@name</c>, <c>@date</c> and <c>@money</c>. Each returns
/// null for "no usable value" and says why through <see cref="EvalContext.Issue"/>; none of them throws on bad data.
/// </summary>
public static partial class Normalisers
{
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();
    private static readonly ConcurrentDictionary<string, TimeZoneInfo?> Zones = new(StringComparer.Ordinal);

    private const int MemoLimit = 1 << 20;
    private static readonly ConcurrentDictionary<(string Raw, string Region), (string? E164, string? Issue)> PhoneCache = new();

    /// <summary>E.164 for a valid number; null for masked (<c>138****1234</c>), encrypted (<c>$…$1$</c>) or invalid ones.</summary>
    /// <remarks>
    /// libphonenumber costs microseconds per parse and the same customer's number recurs on every order, so results
    /// are memoised per (text, region); the cache is emptied when it reaches its size limit.
    /// </remarks>
    public static string? Phone(string? raw, string region, EvalContext ctx)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        if (!PhoneCache.TryGetValue((raw, region), out var cached))
        {
            var probe = new EvalContext(ctx.Now, region, ctx.TimeZone);
            cached = (ParsePhone(raw, region, probe), probe.Issues.Count > 0 ? probe.Issues[0].Message : null);
            if (PhoneCache.Count >= MemoLimit)
            {
                PhoneCache.Clear();
            }

            PhoneCache[(raw, region)] = cached;
        }

        if (cached.Issue is not null)
        {
            ctx.Issue(cached.Issue);
        }

        return cached.E164;
    }

    private static string? ParsePhone(string? raw, string region, EvalContext ctx)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        var text = raw.Trim();
        if (text.Contains('*', StringComparison.Ordinal))
        {
            ctx.Issue("masked phone dropped");
            return null;
        }

        if (IsEncrypted(text))
        {
            ctx.Issue("encrypted phone dropped (decrypt it first)");
            return null;
        }

        // Tmall privacy numbers "18877771111-123" carry an extension: not the customer's own number.
        if (PrivacyNumber().IsMatch(text))
        {
            ctx.Issue("privacy (virtual) number dropped");
            return null;
        }

        try
        {
            var number = Phones.Parse(text, region);
            if (!Phones.IsValidNumber(number))
            {
                ctx.Issue("invalid phone dropped");
                return null;
            }

            return Phones.Format(number, PhoneNumberFormat.E164);
        }
        catch (NumberParseException)
        {
            ctx.Issue("unparseable phone dropped");
            return null;
        }
    }

    private static readonly ConcurrentDictionary<string, string?> EmailCache = new(StringComparer.Ordinal);

    /// <summary>Trimmed and lower-cased; null when not a plausible address (memoised like phones: one instance per address).</summary>
    public static string? Email(string? raw, EvalContext ctx)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        if (EmailCache.TryGetValue(raw, out var cached))
        {
            if (cached is null)
            {
                ctx.Issue("invalid email dropped");
            }

            return cached;
        }

        var result = NormaliseEmail(raw, ctx);
        if (EmailCache.Count >= MemoLimit)
        {
            EmailCache.Clear();
        }

        EmailCache[raw] = result;
        return result;
    }

    private static string? NormaliseEmail(string raw, EvalContext ctx)
    {
        var email = raw.Trim().ToLowerInvariant();
        if (email.Length > 254 || !EmailShape().IsMatch(email))
        {
            ctx.Issue("invalid email dropped");
            return null;
        }

        return email;
    }

    /// <summary>
    /// A display name. A full name is kept as given. From given and family names: Chinese, Japanese and Korean names
    /// are family name first with no space (张 + 三 → 张三); others are "given family".
    /// </summary>
    public static string? Name(string? full, string? given, string? family)
    {
        if (!string.IsNullOrWhiteSpace(full) && !IsEncrypted(full))
        {
            return CollapseSpaces(full.Trim());
        }

        given = string.IsNullOrWhiteSpace(given) || IsEncrypted(given) ? null : given.Trim();
        family = string.IsNullOrWhiteSpace(family) || IsEncrypted(family) ? null : family.Trim();
        if (given is null && family is null)
        {
            return null;
        }

        if (ContainsCjk(given) || ContainsCjk(family))
        {
            return (family ?? "") + (given ?? "");
        }

        return CollapseSpaces($"{given} {family}".Trim());
    }

    /// <summary>
    /// A timestamp with its offset. ISO 8601 with an offset is kept; a local time without one (Youzan, TOP:
    /// <c>2024-01-01 12:00:00</c>) is read in <paramref name="timeZone"/>; numbers are epoch seconds or milliseconds.
    /// </summary>
    public static DateTimeOffset? Date(JToken? value, string? timeZone, EvalContext ctx)
    {
        switch (value)
        {
            case null:
                return null;
            case JValue { Value: DateTimeOffset d }:
                return d;
            case JValue { Value: DateTime dt }:
                return Local(DateTime.SpecifyKind(dt, DateTimeKind.Unspecified), timeZone, ctx);
            case JValue { Type: JTokenType.Integer or JTokenType.Float } n:
                var epoch = n.Value<decimal>();
                return epoch > 100_000_000_000m ? DateTimeOffset.FromUnixTimeMilliseconds((long)epoch) : DateTimeOffset.FromUnixTimeSeconds((long)epoch);
            case JValue { Type: JTokenType.String } s:
                var text = ((string)s!).Trim();
                if (text.Length == 0)
                {
                    return null;
                }

                if (TryFastDate(text, out var fastLocal, out var fastOffset))
                {
                    return fastOffset is { } off ? new DateTimeOffset(fastLocal, off) : Local(fastLocal, timeZone, ctx);
                }

                if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var digits))
                {
                    return digits > 100_000_000_000 ? DateTimeOffset.FromUnixTimeMilliseconds(digits) : DateTimeOffset.FromUnixTimeSeconds(digits);
                }

                if (HasOffset(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var withOffset))
                {
                    return withOffset;
                }

                if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out var local))
                {
                    return Local(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), timeZone, ctx);
                }

                ctx.Issue($"unparseable date '{Truncate(text)}'");
                return null;
            default:
                return null;
        }
    }

    /// <summary>Money as decimal. <paramref name="unit"/> <c>fen</c> or <c>cents</c> divides by 100 (Youzan cash fields are in fen).</summary>
    public static decimal? Money(JToken? value, string? unit, EvalContext ctx)
    {
        var number = Number(value, ctx);
        if (number is null)
        {
            return null;
        }

        return unit is "fen" or "cents" ? number / 100m : number;
    }

    public static decimal? Number(JToken? value, EvalContext ctx)
    {
        switch (value)
        {
            case JValue { Type: JTokenType.Integer or JTokenType.Float } n:
                return n.Value<decimal>();
            case JValue { Type: JTokenType.String } s:
                var text = ((string)s!).Trim();
                if (text.Contains(',', StringComparison.Ordinal))
                {
                    text = text.Replace(",", "", StringComparison.Ordinal);
                }

                if (text.Length == 0)
                {
                    return null;
                }

                if (decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }

                ctx.Issue($"'{Truncate(text)}' is not a number", isError: true);
                return null;
            default:
                return null;
        }
    }

    /// <summary>Youzan's per-shop encrypted PII looks like <c>$uhqbqg15Dn5slYolRHAzZw==$1$</c>.</summary>
    public static bool IsEncrypted(string value) => value.Length > 3 && value[0] == '$' && value.EndsWith('$') && value.Count(c => c == '$') >= 3;

    public static TimeZoneInfo? Zone(string id) => Zones.GetOrAdd(id, z =>
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(z);
        }
        catch (TimeZoneNotFoundException)
        {
            return null;
        }
    });

    /// <summary>
    /// The shapes platforms actually send, parsed without culture machinery: <c>yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm]</c>
    /// and <c>yyyy-MM-dd HH:mm:ss</c>. Anything else falls back to the general parser.
    /// </summary>
    private static bool TryFastDate(string s, out DateTime local, out TimeSpan? offset)
    {
        local = default;
        offset = null;
        if (s.Length < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
        {
            return false;
        }

        var i = 19;
        long ticks = 0;
        if (i < s.Length && s[i] == '.')
        {
            var start = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                if (i - start < 7)
                {
                    ticks = ticks * 10 + (s[i] - '0');
                }

                i++;
            }

            for (var pad = i - start; pad < 7; pad++)
            {
                ticks *= 10;
            }
        }

        if (i < s.Length)
        {
            if (s[i] is 'Z' or 'z' && i == s.Length - 1)
            {
                offset = TimeSpan.Zero;
            }
            else if (s[i] is '+' or '-' && s.Length - i == 6 && s[i + 3] == ':' && Digits(s, i + 1, 2, out var oh) && Digits(s, i + 4, 2, out var om))
            {
                offset = new TimeSpan(oh, om, 0) * (s[i] == '-' ? -1 : 1);
            }
            else
            {
                return false;
            }
        }

        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(ticks);
        return true;
    }

    private static bool Digits(string s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!char.IsAsciiDigit(s[i]))
            {
                return false;
            }

            value = value * 10 + (s[i] - '0');
        }

        return true;
    }

    private static DateTimeOffset Local(DateTime local, string? timeZone, EvalContext ctx)
    {
        var zone = timeZone is null ? ctx.TimeZone : Zone(timeZone) ?? ctx.TimeZone;
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    private static bool HasOffset(string text)
    {
        if (text.EndsWith('Z') || text.EndsWith('z') || text.EndsWith("GMT", StringComparison.OrdinalIgnoreCase) || text.EndsWith("UTC", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var t = text.IndexOf('T', StringComparison.Ordinal);
        var tail = t >= 0 ? text[t..] : text.Length > 10 ? text[10..] : "";
        return tail.Contains('+', StringComparison.Ordinal) || tail.LastIndexOf('-') > 0;
    }

    private static bool ContainsCjk(string? s) => s is not null && s.Any(c => c is >= '\u3040' and <= '\u9FFF' or >= '\uAC00' and <= '\uD7AF' or >= '\uF900' and <= '\uFAFF');

    private static string CollapseSpaces(string s) => s.Contains("  ", StringComparison.Ordinal) ? MultipleSpaces().Replace(s, " ") : s;

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$", RegexOptions.CultureInvariant)]
    private static partial Regex EmailShape();

    [GeneratedRegex(@"^\+?\d{11,13}-\d{1,6}$", RegexOptions.CultureInvariant)]
    private static partial Regex PrivacyNumber();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex MultipleSpaces();
}
