using System.Globalization;
using System.Text;
using Ferry.Protocol.Transport;

namespace Ferry.Client;

/// <summary>
/// Everything a <see cref="ConnectionFactory"/> needs, immutable. Parsed from an ActiveMQ-style URI by
/// <see cref="Parse"/>: the <c>jms.*</c> options set the fields below (an unknown <c>jms.*</c> option
/// is an error); every other option (<c>wireFormat.*</c>, <c>connectionTimeout</c>, failover options)
/// stays in <see cref="TransportUri"/> for the transport, which refuses the ones it does not know.
/// </summary>
public sealed record ConnectionOptions
{
    /// <summary>The transport URI without the <c>jms.*</c> options, for example <c>tcp://127.0.0.1:61616</c>.</summary>
    public required string TransportUri { get; init; }

    /// <summary>The JMS client id (<c>jms.clientID</c>); null lets the client generate one. Durable subscriptions are keyed by it.</summary>
    public string? ClientId { get; init; }

    /// <summary>User name sent in ConnectionInfo (<c>jms.userName</c>).</summary>
    public string? UserName { get; init; }

    /// <summary>Password sent in ConnectionInfo (<c>jms.password</c>).</summary>
    public string? Password { get; init; }

    /// <summary>Send persistent messages without waiting for the broker (<c>jms.useAsyncSend</c>, default false).</summary>
    public bool UseAsyncSend { get; init; }

    /// <summary>Wait for the broker on every send, even non-persistent or transacted ones (<c>jms.alwaysSyncSend</c>, default false).</summary>
    public bool AlwaysSyncSend { get; init; }

    /// <summary>
    /// Bytes of async sends a producer may have outstanding before it waits for ProducerAcks
    /// (<c>jms.producerWindowSize</c>, default 0 = no window).
    /// </summary>
    public int ProducerWindowSize { get; init; }

    /// <summary>How long a send may wait for the broker (or for producer window space) before failing (<c>jms.sendTimeout</c> in ms; default 0 = <see cref="RequestTimeout"/>).</summary>
    public TimeSpan SendTimeout { get; init; }

    /// <summary>
    /// How long any request waits for a connected broker's response (<c>jms.requestTimeout</c> in ms,
    /// default 30 s). On a failover transport the wait starts over after a reconnect: outages are
    /// bounded by the failover <c>timeout</c> option instead.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long closing the connection waits for the broker (<c>jms.closeTimeout</c> in ms, default 15 s).</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Ask the broker to dispatch to consumers asynchronously (<c>jms.dispatchAsync</c>, default true).</summary>
    public bool DispatchAsync { get; init; } = true;

    /// <summary>Consumer prefetch sizes (<c>jms.prefetchPolicy.*</c>).</summary>
    public PrefetchPolicy Prefetch { get; init; } = new();

    /// <summary>Local redelivery limits (<c>jms.redeliveryPolicy.*</c>).</summary>
    public RedeliveryPolicy Redelivery { get; init; } = new();

    /// <summary>Message ids remembered per producer for duplicate suppression (<c>jms.auditDepth</c>, default 2048).</summary>
    public int AuditDepth { get; init; } = 2048;

    /// <summary>Producers tracked per consumer for duplicate suppression (<c>jms.auditMaximumProducerNumber</c>, default 64).</summary>
    public int AuditMaximumProducerNumber { get; init; } = 64;

    /// <summary>
    /// Parses <paramref name="uri"/>, e.g. <c>tcp://127.0.0.1:61616?jms.prefetchPolicy.all=10&amp;wireFormat.maxInactivityDuration=0</c>.
    /// </summary>
    /// <exception cref="FormatException">The URI is malformed, or names an unknown or invalid <c>jms.*</c> option.</exception>
    public static ConnectionOptions Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var parsed = Ferry.Protocol.Transport.TransportUri.Parse(uri);
        var (transportUri, jms) = SplitJmsOptions(uri.Trim());
        var o = new ConnectionOptions { TransportUri = transportUri };
        var prefetch = o.Prefetch;
        var redelivery = o.Redelivery;
        foreach (var (key, value) in jms)
        {
            switch (key.ToLowerInvariant())
            {
                case "jms.clientid": o = o with { ClientId = value }; break;
                case "jms.username": o = o with { UserName = value }; break;
                case "jms.password": o = o with { Password = value }; break;
                case "jms.useasyncsend": o = o with { UseAsyncSend = Bool(key, value) }; break;
                case "jms.alwayssyncsend": o = o with { AlwaysSyncSend = Bool(key, value) }; break;
                case "jms.producerwindowsize": o = o with { ProducerWindowSize = Int(key, value, 0) }; break;
                case "jms.sendtimeout": o = o with { SendTimeout = Millis(key, value) }; break;
                case "jms.requesttimeout": o = o with { RequestTimeout = Millis(key, value, positive: true) }; break;
                case "jms.closetimeout": o = o with { CloseTimeout = Millis(key, value, positive: true) }; break;
                case "jms.dispatchasync": o = o with { DispatchAsync = Bool(key, value) }; break;
                case "jms.auditdepth": o = o with { AuditDepth = Int(key, value, 1) }; break;
                case "jms.auditmaximumproducernumber": o = o with { AuditMaximumProducerNumber = Int(key, value, 1) }; break;
                case "jms.watchtopicadvisories":
                    if (Bool(key, value))
                    {
                        throw new FormatException($"Option '{key}=true' is not supported: the client does not watch advisories ({uri})");
                    }
                    break;
                case "jms.prefetchpolicy.all":
                    int all = Int(key, value, 0);
                    prefetch = new PrefetchPolicy { QueuePrefetch = all, TopicPrefetch = all, DurableTopicPrefetch = all, QueueBrowserPrefetch = all };
                    break;
                case "jms.prefetchpolicy.queueprefetch": prefetch = prefetch with { QueuePrefetch = Int(key, value, 0) }; break;
                case "jms.prefetchpolicy.topicprefetch": prefetch = prefetch with { TopicPrefetch = Int(key, value, 0) }; break;
                case "jms.prefetchpolicy.durabletopicprefetch": prefetch = prefetch with { DurableTopicPrefetch = Int(key, value, 0) }; break;
                case "jms.prefetchpolicy.queuebrowserprefetch": prefetch = prefetch with { QueueBrowserPrefetch = Int(key, value, 0) }; break;
                case "jms.redeliverypolicy.maximumredeliveries": redelivery = redelivery with { MaximumRedeliveries = Int(key, value, -1) }; break;
                default:
                    throw new FormatException($"Unknown option '{key}' in connection URI '{parsed}'");
            }
        }
        return o with { Prefetch = prefetch, Redelivery = redelivery };
    }

    /// <summary>Removes the <c>jms.*</c> options from the outermost query of <paramref name="uri"/>.</summary>
    internal static (string TransportUri, List<KeyValuePair<string, string>> Jms) SplitJmsOptions(string uri)
    {
        int queryStart = OuterQueryStart(uri);
        var jms = new List<KeyValuePair<string, string>>();
        if (queryStart < 0)
        {
            return (uri, jms);
        }
        var kept = new StringBuilder();
        foreach (var pair in uri[(queryStart + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            string key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            if (key.StartsWith("jms.", StringComparison.OrdinalIgnoreCase))
            {
                jms.Add(new(key, eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..])));
                continue;
            }
            kept.Append(kept.Length == 0 ? '?' : '&').Append(pair);
        }
        return (uri[..queryStart] + kept, jms);
    }

    /// <summary>Where the query of the outermost URI starts (a '?' outside any parentheses), or -1.</summary>
    internal static int OuterQueryStart(string uri)
    {
        int depth = 0;
        for (int i = 0; i < uri.Length; i++)
        {
            switch (uri[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case '?' when depth == 0:
                    return i;
            }
        }
        return -1;
    }

    private static bool Bool(string key, string value) => bool.TryParse(value, out bool b)
        ? b
        : throw new FormatException($"Option '{key}={value}' must be true or false");

    private static int Int(string key, string value, int minimum) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) && i >= minimum
            ? i
            : throw new FormatException($"Option '{key}={value}' must be an integer of at least {minimum}");

    private static TimeSpan Millis(string key, string value, bool positive = false) =>
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long ms) && (positive ? ms > 0 : ms >= 0)
            ? TimeSpan.FromMilliseconds(ms)
            : throw new FormatException($"Option '{key}={value}' must be a {(positive ? "positive" : "non-negative")} number of milliseconds");
}

/// <summary>How many messages the broker may push to a consumer ahead of the application (ConsumerInfo.prefetchSize).</summary>
public sealed record PrefetchPolicy
{
    /// <summary>Queue consumers (<c>jms.prefetchPolicy.queuePrefetch</c>, default 1000). 0 = pull one message per receive.</summary>
    public int QueuePrefetch { get; init; } = 1000;

    /// <summary>Non-durable topic subscribers (<c>jms.prefetchPolicy.topicPrefetch</c>, default 32767).</summary>
    public int TopicPrefetch { get; init; } = short.MaxValue;

    /// <summary>Durable topic subscribers (<c>jms.prefetchPolicy.durableTopicPrefetch</c>, default 100).</summary>
    public int DurableTopicPrefetch { get; init; } = 100;

    /// <summary>Queue browsers (<c>jms.prefetchPolicy.queueBrowserPrefetch</c>, default 500).</summary>
    public int QueueBrowserPrefetch { get; init; } = 500;
}

/// <summary>What the client does with a message the application rolled back or recovered again and again.</summary>
public sealed record RedeliveryPolicy
{
    /// <summary>
    /// Local redeliveries before the client gives up and sends a POISON ack, which moves the message to the
    /// dead-letter queue (<c>jms.redeliveryPolicy.maximumRedeliveries</c>, default 6; -1 = no limit).
    /// </summary>
    public int MaximumRedeliveries { get; init; } = 6;
}
