using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Refit;

namespace Hub.Connectors.Http;

/// <summary>
/// The one HTTP stack every connector uses: a Refit client over HttpClientFactory with the standard resilience
/// handler (rate limiter, total timeout, retry with jitter honouring Retry-After, circuit breaker, attempt timeout),
/// configured from <c>Hub:Connectors:Http</c> so tests and slow platforms can tune it. Never stacked twice.
/// </summary>
public static class ConnectorHttp
{
    public static readonly RefitSettings RefitSettings = new(new NewtonsoftContentSerializer());

    /// <summary>Registers <typeparamref name="TApi"/> against per-request base addresses with the standard pipeline.</summary>
    /// <param name="retryUnsafeMethods">True when the platform's POSTs are reads (GraphQL queries) and so safe to retry.</param>
    /// <param name="neverRetry">Answers the platform says retrying cannot fix soon (HubSpot's daily limit), spared the retries.</param>
    public static IHttpClientBuilder AddConnectorClient<TApi>(this IServiceCollection services, ConnectorHttpOptions options, bool retryUnsafeMethods, Func<HttpResponseMessage, bool>? neverRetry = null)
        where TApi : class
    {
        services.AddTransient<PerRequestBaseAddressHandler>();
        // Refit 16 builds requests in source-generated code; the reflection builder is a separate package the registry
        // does not serve, so the generated client is created directly on the factory's HttpClient.
        var builder = services.AddHttpClient(typeof(TApi).FullName!, c =>
            {
                c.BaseAddress = PerRequestBaseAddressHandler.Placeholder;
                c.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            })
            .AddHttpMessageHandler<PerRequestBaseAddressHandler>()
            .AddTypedClient(http => RestService.ForGenerated<TApi>(http, RefitSettings));
        builder.AddStandardResilienceHandler(o =>
        {
            Configure(o, options, retryUnsafeMethods);
            if (neverRetry is not null)
            {
                var handles = o.Retry.ShouldHandle;
                o.Retry.ShouldHandle = args => args.Outcome.Result is { } r && neverRetry(r) ? ValueTask.FromResult(false) : handles(args);
            }
        });
        return builder;
    }

    /// <summary>Same pipeline for a plain named client (downloads from signed URLs).</summary>
    public static IHttpClientBuilder AddConnectorDownloadClient(this IServiceCollection services, string name, ConnectorHttpOptions options)
    {
        var builder = services.AddHttpClient(name, c => c.Timeout = Timeout.InfiniteTimeSpan);
        builder.AddStandardResilienceHandler(o => Configure(o, options, retryUnsafeMethods: false));
        return builder;
    }

    private static void Configure(HttpStandardResilienceOptions o, ConnectorHttpOptions options, bool retryUnsafeMethods)
    {
        o.AttemptTimeout.Timeout = options.AttemptTimeout;
        o.TotalRequestTimeout.Timeout = options.TotalTimeout;
        o.CircuitBreaker.SamplingDuration = options.AttemptTimeout * 2 > TimeSpan.FromSeconds(30) ? options.AttemptTimeout * 2 : TimeSpan.FromSeconds(30);
        o.Retry.MaxRetryAttempts = options.MaxRetries;
        o.Retry.Delay = options.RetryBaseDelay;
        o.Retry.BackoffType = DelayBackoffType.Exponential;
        o.Retry.UseJitter = true;
        o.Retry.DelayGenerator = args => ValueTask.FromResult(RetryAfterOf(args.Outcome.Result, options.MaxRetryAfter));
        if (!retryUnsafeMethods)
        {
            o.Retry.DisableForUnsafeHttpMethods();
        }
    }

    /// <summary>
    /// The wait a 429/503 asked for. Shopify sends fractional seconds (<c>Retry-After: 2.0</c>), which
    /// <see cref="System.Net.Http.Headers.RetryConditionHeaderValue"/> cannot parse, so the raw header is read too.
    /// Null falls back to exponential backoff with jitter.
    /// </summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage? response, TimeSpan cap)
    {
        if (response is null || (response.StatusCode != HttpStatusCode.TooManyRequests && response.StatusCode != HttpStatusCode.ServiceUnavailable))
        {
            return null;
        }

        return ParseRetryAfter(response.Headers.TryGetValues("Retry-After", out var values) ? values.FirstOrDefault() : null, cap);
    }

    /// <summary>Seconds (fractional allowed) or an HTTP date; null when absent or unreadable.</summary>
    public static TimeSpan? ParseRetryAfter(string? raw, TimeSpan cap)
    {
        TimeSpan? wait = null;
        if (!string.IsNullOrWhiteSpace(raw))
        {
            if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            {
                wait = TimeSpan.FromSeconds(seconds);
            }
            else if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                var delta = at - DateTimeOffset.UtcNow;
                wait = delta > TimeSpan.Zero ? delta : TimeSpan.Zero;
            }
        }

        return wait is { } w && w > cap ? cap : wait;
    }

    /// <summary>The Retry-After of a Refit response (429/503), capped.</summary>
    public static TimeSpan? RetryAfterOf(IApiResponse response, TimeSpan cap)
    {
        if (response is null || (response.StatusCode != HttpStatusCode.TooManyRequests && response.StatusCode != HttpStatusCode.ServiceUnavailable))
        {
            return null;
        }

        return ParseRetryAfter(response.Header("Retry-After"), cap);
    }

    /// <summary>The answer's JSON object, from a success or from a failure's body; null when there is none.</summary>
    public static Newtonsoft.Json.Linq.JObject? Json(this IApiResponse<Newtonsoft.Json.Linq.JObject> response) =>
        response?.Content ?? ParseOrNull(response?.ErrorContent());

    /// <summary>A JSON object from text, or null when the text is empty or not a JSON object (an HTML error page).</summary>
    public static Newtonsoft.Json.Linq.JObject? ParseOrNull(string? raw)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return null;
        }

        try
        {
            using var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(raw)) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None };
            return Newtonsoft.Json.Linq.JToken.ReadFrom(reader) as Newtonsoft.Json.Linq.JObject;
        }
        catch (Newtonsoft.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sends a call to a platform that answers errors inside its JSON body (Youzan, TOP, Fxiaoke) and returns that body.
    /// A transport failure or an answer that is not JSON is a transient error naming <paramref name="what"/>.
    /// </summary>
    public static async Task<Newtonsoft.Json.Linq.JObject> ReadJsonAsync(Func<Task<IApiResponse<Newtonsoft.Json.Linq.JObject>>> call, string what)
    {
        ArgumentNullException.ThrowIfNull(call);
        IApiResponse<Newtonsoft.Json.Linq.JObject> response;
        try
        {
            response = await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTransport(ex) || ex is TaskCanceledException { CancellationToken.IsCancellationRequested: false })
        {
            throw new ConnectorTransientException($"{what} could not be reached: {ex.Message}", inner: ex);
        }

        using (response)
        {
            return response.Json() ?? throw new ConnectorTransientException($"{what} answered HTTP {response.Status()} without JSON.");
        }
    }

    /// <summary>Failures of the transport or the resilience pipeline itself: the platform was not reached (or did not answer).</summary>
    public static bool IsTransport(Exception exception) =>
        exception is HttpRequestException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException or ApiException;

    /// <summary>True when the secret's timestamp at <paramref name="key"/> is missing, unreadable, or within <paramref name="margin"/> of now.</summary>
    public static bool ExpiresWithin(Newtonsoft.Json.Linq.JObject secrets, string key, TimeProvider clock, TimeSpan margin) =>
        secrets?.Value<string>(key) is not { } at ||
        !DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var expires) ||
        expires - clock.GetUtcNow() < margin;

    /// <summary>The body of a failed response, as text.</summary>
    public static string? ErrorContent(this IApiResponse response) => (response?.Error as ApiException)?.Content;

    /// <summary>The HTTP status as a number (0 when the request never got an answer).</summary>
    public static int Status(this IApiResponse response) => response?.StatusCode is { } s ? (int)s : 0;

    /// <summary>Reads a header as text, or null.</summary>
    public static string? Header(this IApiResponse response, string name) =>
        response?.Headers is { } h && h.TryGetValues(name, out var v) ? v.FirstOrDefault() : null;
}

/// <summary>Bound from <c>Hub:Connectors:Http</c>.</summary>
public sealed class ConnectorHttpOptions
{
    public const string Section = "Hub:Connectors:Http";

    public static ConnectorHttpOptions From(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var options = new ConnectorHttpOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection(Section), options);
        return options;
    }

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(120);
    public int MaxRetries { get; set; } = 4;
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest Retry-After the pipeline waits inside one call; longer asks become a transient error for the runtime.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);
}
