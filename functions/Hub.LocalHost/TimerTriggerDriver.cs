using Cronos;
using Newtonsoft.Json.Linq;

namespace Hub.LocalHost;

/// <summary>
/// Fires a <c>timerTrigger</c> on its NCRONTAB schedule (six fields, seconds first, in UTC unless
/// <c>WEBSITE_TIME_ZONE</c> is set), or a <c>hh:mm:ss</c> interval. A failure is only logged, unless function.json
/// has a <c>retry</c> policy (<c>fixedDelay</c> or <c>exponentialBackoff</c>), which is honoured as the host does.
/// </summary>
public sealed class TimerTriggerDriver
{
    private readonly FunctionDefinition _function;
    private readonly FunctionInvoker _invoker;
    private readonly ILogger _logger;
    private readonly CronExpression? _cron;
    private readonly TimeSpan? _interval;
    private readonly TimeZoneInfo _zone;
    private DateTimeOffset? _last;

    public TimerTriggerDriver(FunctionDefinition function, FunctionInvoker invoker, AppSettings settings, ILogger logger)
    {
        _function = function;
        _invoker = invoker;
        _logger = logger;
        var schedule = function.Trigger.Get("schedule") ?? throw new InvalidOperationException($"{function.Name}: timerTrigger has no schedule.");
        if (TimeSpan.TryParse(schedule, System.Globalization.CultureInfo.InvariantCulture, out var interval) && schedule.Contains(':', StringComparison.Ordinal))
        {
            _interval = interval;
        }
        else
        {
            var fields = schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            if (fields != 6)
            {
                throw new InvalidOperationException($"{function.Name}: schedule '{schedule}' must have six NCRONTAB fields (seconds first).");
            }

            _cron = CronExpression.Parse(schedule, CronFormat.IncludeSeconds);
        }

        _zone = settings["WEBSITE_TIME_ZONE"] is { } zone ? TimeZoneInfo.FindSystemTimeZoneById(zone) : TimeZoneInfo.Utc;
        RunOnStartup = function.Trigger.Json.Value<bool?>("runOnStartup") ?? false;
    }

    public bool RunOnStartup { get; }

    public int Fired { get; private set; }

    public DateTimeOffset? Next(DateTimeOffset from) => _interval is { } i ? from + i : _cron!.GetNextOccurrence(from, _zone);

    public async Task RunAsync(CancellationToken ct)
    {
        if (RunOnStartup)
        {
            await FireAsync(DateTimeOffset.UtcNow, false, ct);
        }

        var next = Next(DateTimeOffset.UtcNow);
        while (next is { } due && !ct.IsCancellationRequested)
        {
            var wait = due - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            var now = DateTimeOffset.UtcNow;
            var pastDue = now - due > TimeSpan.FromSeconds(1);
            await FireAsync(due, pastDue, ct);
            next = Next(due > now ? due : now);
        }
    }

    private async Task FireAsync(DateTimeOffset due, bool pastDue, CancellationToken ct)
    {
        var retry = _function.Json["retry"] as JObject;
        var maxRetries = retry?.Value<int?>("maxRetryCount") ?? 0;
        for (var attempt = 0; ; attempt++)
        {
            var now = DateTimeOffset.UtcNow;
            var envelope = HostEnvelope.Timer(_function.Name, _function.Trigger.Name, _last, Next(due) ?? due, pastDue, now);
            if (attempt > 0)
            {
                envelope["Metadata"]!["RetryContext"] = new JObject { ["RetryCount"] = attempt, ["MaxRetryCount"] = maxRetries };
            }

            Fired++;
            var outcome = await _invoker.InvokeAsync(_function, envelope, ct);
            if (outcome.Success || attempt >= maxRetries || ct.IsCancellationRequested)
            {
                _last = due;
                return;
            }

            var delay = RetryDelay(retry!, attempt);
            _logger.LogWarning("Timer {Function} failed; retry {Attempt}/{Max} in {Delay}", _function.Name, attempt + 1, maxRetries, delay);
            try
            {
                await Task.Delay(delay, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static TimeSpan RetryDelay(JObject retry, int attempt)
    {
        static TimeSpan Span(JObject r, string key, TimeSpan fallback) =>
            r.Value<string>(key) is { } v ? TimeSpan.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

        if (string.Equals(retry.Value<string>("strategy"), "exponentialBackoff", StringComparison.OrdinalIgnoreCase))
        {
            var min = Span(retry, "minimumInterval", TimeSpan.FromSeconds(1));
            var max = Span(retry, "maximumInterval", TimeSpan.FromMinutes(15));
            var ms = Math.Min(min.TotalMilliseconds * Math.Pow(2, attempt), max.TotalMilliseconds);
            return TimeSpan.FromMilliseconds(ms);
        }

        return Span(retry, "delayInterval", TimeSpan.FromSeconds(30));
    }
}
