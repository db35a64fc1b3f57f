namespace Hub.Connectors;

/// <summary>
/// A connector failure that is neither a known validation problem nor known to be transient.
/// The runtime retries it like any failed invocation (the host redelivers) and records the message on the run.
/// </summary>
public class ConnectorException : Exception
{
    public ConnectorException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>The platform's own error code, when it gave one (e.g. Zoho <c>INVALID_DATA</c>, TOP <c>isv.invalid-parameter</c>).</summary>
    public string? PlatformCode { get; init; }
}

/// <summary>
/// Bad input or configuration: retrying cannot help (wrong credentials, malformed payload, missing scope).
/// The runtime never retries it; the run is marked failed with the message.
/// </summary>
public class ConnectorValidationException : ConnectorException
{
    public ConnectorValidationException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A failure expected to pass (throttling, 5xx, timeouts). The runtime retries it;
/// <see cref="RetryAfter"/> says how long the platform asked us to wait, when it said.
/// </summary>
public class ConnectorTransientException : ConnectorException
{
    public ConnectorTransientException(string message, TimeSpan? retryAfter = null, Exception? inner = null) : base(message, inner)
        => RetryAfter = retryAfter;

    public TimeSpan? RetryAfter { get; }
}
