namespace Ferry.Protocol.Transport;

/// <summary>
/// The reconnect back-off of a failover transport: starts at <c>initialReconnectDelay</c>, is
/// multiplied by <c>reconnectDelayExponent</c> after every wait (with <c>useExponentialBackOff</c>)
/// and never exceeds <c>maxReconnectDelay</c>. Each wait gets jitter: it is drawn uniformly from
/// [d·(1−j), d·(1+j)] and then capped, so many clients of one broker do not reconnect in lock-step.
/// </summary>
internal sealed class FailoverBackoff
{
    private readonly FailoverOptions _options;
    private readonly Random _random;
    private TimeSpan _next;

    public FailoverBackoff(FailoverOptions options, Random random)
    {
        _options = options;
        _random = random;
        _next = Cap(options.InitialReconnectDelay);
    }

    /// <summary>The base (un-jittered) delay of the next wait.</summary>
    public TimeSpan Upcoming => _next;

    /// <summary>Returns the next wait, jittered, and steps the base delay up.</summary>
    public TimeSpan Next()
    {
        var current = _next;
        if (_options.UseExponentialBackOff)
        {
            _next = Cap(TimeSpan.FromMilliseconds(current.TotalMilliseconds * _options.ReconnectDelayExponent));
        }
        return Jitter(current);
    }

    public void Reset() => _next = Cap(_options.InitialReconnectDelay);

    private TimeSpan Jitter(TimeSpan delay)
    {
        double j = _options.ReconnectDelayJitter;
        if (j <= 0 || delay <= TimeSpan.Zero)
        {
            return delay;
        }
        double factor = 1 - j + (2 * j * _random.NextDouble());
        return Cap(TimeSpan.FromMilliseconds(delay.TotalMilliseconds * factor));
    }

    private TimeSpan Cap(TimeSpan delay) => delay > _options.MaxReconnectDelay ? _options.MaxReconnectDelay : delay;
}
