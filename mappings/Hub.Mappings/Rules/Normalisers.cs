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

    /// <summary>E.164 for a valid number; null for masked (<c>138****1234</c>), encrypted (<c>$…$1$</c>) or invalid ones.</summary>
    public static string? Phone(string? raw, string region, EvalContext ctx)
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

    /// <summary>Trimmed and lower-cased; null when not a plausible address.</summary>
    public static string? Email(string? raw, EvalContext ctx)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

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
                var text = ((string)s!).Trim().Replace(",", "", StringComparison.Ordinal);
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

    private static DateTimeOffset Local(DateTime local, string? timeZone, EvalContext ctx)
    {
        var zone = timeZone is null ? ctx.TimeZone : Zone(timeZone) ?? ctx.TimeZone;
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    private static bool HasOffset(string text)
    {
        if (text.EndsWith('Z') || text.EndsWith('z'))
        {
            return true;
        }

        var t = text.IndexOf('T', StringComparison.Ordinal);
        var tail = t >= 0 ? text[t..] : text.Length > 10 ? text[10..] : "";
        return tail.Contains('+', StringComparison.Ordinal) || tail.LastIndexOf('-') > 0;
    }

    private static bool ContainsCjk(string? s) => s is not null && s.Any(c => c is >= '\u3040' and <= '\u9FFF' or >= '\uAC00' and <= '\uD7AF' or >= '\uF900' and <= '\uFAFF');

    private static string CollapseSpaces(string s) => MultipleSpaces().Replace(s, " ");

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$", RegexOptions.CultureInvariant)]
    private static partial Regex EmailShape();

    [GeneratedRegex(@"^\+?\d{11,13}-\d{1,6}$", RegexOptions.CultureInvariant)]
    private static partial Regex PrivacyNumber();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex MultipleSpaces();
}
