using System.Globalization;

namespace Ferry.Protocol.Transport;

/// <summary>
/// Options of a <c>failover:(uri,uri)?option=value</c> transport, with ActiveMQ's names, meanings
/// and defaults. Parsed by <see cref="Parse"/>; an option nobody knows is a <see cref="FormatException"/>
/// naming it. Options the transport only accepts for compatibility are marked "parsed only".
/// </summary>
public sealed record FailoverOptions
{
    /// <summary>ActiveMQ's default <c>maxCacheSize</c>: 128 KiB of recently sent messages.</summary>
    public const int DefaultMaxCacheSize = 128 * 1024;

    /// <summary>The broker URIs (tcp:// or nio://) as written inside the parentheses.</summary>
    public IReadOnlyList<string> Uris { get; init; } = [];

    /// <summary><c>randomize</c> (true): try the URIs in a random order; false keeps the written order.</summary>
    public bool Randomize { get; init; } = true;

    /// <summary><c>initialReconnectDelay</c> (10 ms): the wait before the first reconnect attempt after a loss, and the first back-off step.</summary>
    public TimeSpan InitialReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary><c>maxReconnectDelay</c> (30000 ms): the back-off never waits longer than this.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(30_000);

    /// <summary><c>useExponentialBackOff</c> (true): multiply the delay by <see cref="ReconnectDelayExponent"/> after each failed round; false waits <see cref="InitialReconnectDelay"/> every time.</summary>
    public bool UseExponentialBackOff { get; init; } = true;

    /// <summary><c>reconnectDelayExponent</c> (2.0): the back-off multiplier; at least 1.</summary>
    public double ReconnectDelayExponent { get; init; } = 2.0;

    /// <summary>
    /// <c>reconnectDelayJitter</c> (0.2, Ferry's own): every wait is drawn uniformly from
    /// [delay·(1−j), delay·(1+j)] and then capped at <see cref="MaxReconnectDelay"/>, so clients of a
    /// broker that died do not all come back in the same millisecond. 0 turns jitter off.
    /// </summary>
    public double ReconnectDelayJitter { get; init; } = 0.2;

    /// <summary>
    /// <c>maxReconnectAttempts</c> (-1 = forever): after a connection was lost, give up after this many
    /// failed rounds (one round tries every URI once). 0 = never reconnect. "Forever" still obeys
    /// <see cref="Timeout"/> for callers and disposal for the loop.
    /// </summary>
    public int MaxReconnectAttempts { get; init; } = -1;

    /// <summary>
    /// <c>startupMaxReconnectAttempts</c> (-1 = use <see cref="MaxReconnectAttempts"/>): the limit of failed
    /// rounds before the first connection, i.e. for <see cref="IOpenWireTransport.StartAsync"/> (at least one round is always made).
    /// </summary>
    public int StartupMaxReconnectAttempts { get; init; } = -1;

    /// <summary><c>warnAfterReconnectAttempts</c> (10): log a warning after the first failed round and every this many rounds (0 = only the first).</summary>
    public int WarnAfterReconnectAttempts { get; init; } = 10;

    /// <summary>
    /// <c>timeout</c> (-1 = wait indefinitely): how long a send or request may wait for a link while
    /// disconnected before it fails with <see cref="FailoverTimeoutException"/>. Also bounds <see cref="IOpenWireTransport.StartAsync"/>.
    /// A value ≤ 0 in the URI means indefinitely (<see cref="System.Threading.Timeout.InfiniteTimeSpan"/>).
    /// </summary>
    public TimeSpan Timeout { get; init; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary><c>backup</c> (false): keep warm standby connections to other URIs, used first on failover.</summary>
    public bool Backup { get; init; }

    /// <summary><c>backupPoolSize</c> (1): how many standby connections <see cref="Backup"/> keeps.</summary>
    public int BackupPoolSize { get; init; } = 1;

    /// <summary>
    /// <c>priorityBackup</c> (false): prefer the priority URIs (<see cref="PriorityUris"/>, or else the first
    /// URI); while connected elsewhere, keep trying them (with back-off) and move back as soon as one answers.
    /// </summary>
    public bool PriorityBackup { get; init; }

    /// <summary><c>priorityURIs</c> (none): comma-separated URIs that count as "priority" for <see cref="PriorityBackup"/>.</summary>
    public IReadOnlyList<string> PriorityUris { get; init; } = [];

    /// <summary>
    /// <c>trackMessages</c> (false): keep recently sent one-way (async) messages outside transactions, up to
    /// <see cref="MaxCacheSize"/> bytes, and resend them after a reconnect with their message ids (the
    /// broker's producer audit drops those it already stored).
    /// </summary>
    public bool TrackMessages { get; init; }

    /// <summary><c>maxCacheSize</c> (131072 bytes): the bound of the <see cref="TrackMessages"/> cache; the oldest are dropped first.</summary>
    public int MaxCacheSize { get; init; } = DefaultMaxCacheSize;

    /// <summary><c>trackTransactionProducers</c> (true). Parsed only: a transaction open across a failover always fails at commit (see <see cref="TransactionRolledBackException"/>).</summary>
    public bool TrackTransactionProducers { get; init; } = true;

    /// <summary><c>updateURIsSupported</c> (true): add the URIs a broker lists in <c>ConnectionControl.connectedBrokers</c>.</summary>
    public bool UpdateUrisSupported { get; init; } = true;

    /// <summary><c>rebalanceUpdateURIs</c> (true). Parsed only (it applies to <c>updateURIsURL</c>, which Ferry does not support).</summary>
    public bool RebalanceUpdateUris { get; init; } = true;

    /// <summary><c>reconnectSupported</c> (true): obey <c>ConnectionControl.reconnectTo</c> and <c>rebalanceConnection</c>.</summary>
    public bool ReconnectSupported { get; init; } = true;

    /// <summary><c>nested.*</c>: options applied to every inner URI (an option the inner URI sets itself wins).</summary>
    public IReadOnlyDictionary<string, string> NestedOptions { get; init; } = new Dictionary<string, string>();

    public static FailoverOptions Parse(string uri) => From(TransportUri.Parse(uri));

    public static FailoverOptions From(TransportUri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!string.Equals(uri.Scheme, "failover", StringComparison.OrdinalIgnoreCase) || !uri.IsComposite)
        {
            throw new FormatException($"Transport URI '{uri}' is not a failover:(...) URI");
        }
        var reader = new TransportOptionReader(uri);
        var defaults = new FailoverOptions();
        var nested = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in uri.Options)
        {
            if (key.StartsWith("nested.", StringComparison.OrdinalIgnoreCase) && key.Length > "nested.".Length)
            {
                reader.TryGet(key, out _);
                nested[key["nested.".Length..]] = value;
            }
        }
        if (reader.TryGet("updateURIsURL", out _))
        {
            throw new FormatException($"Option 'updateURIsURL' in transport URI '{uri}' is not supported");
        }
        long timeout = reader.Long("timeout", -1);
        var options = new FailoverOptions
        {
            Uris = uri.Components.Select(c => c.Original).ToList(),
            Randomize = reader.Bool("randomize", defaults.Randomize),
            InitialReconnectDelay = Millis(reader, uri, "initialReconnectDelay", 10),
            MaxReconnectDelay = Millis(reader, uri, "maxReconnectDelay", 30_000),
            UseExponentialBackOff = reader.Bool("useExponentialBackOff", defaults.UseExponentialBackOff),
            ReconnectDelayExponent = Double(reader, uri, "reconnectDelayExponent", defaults.ReconnectDelayExponent),
            ReconnectDelayJitter = Double(reader, uri, "reconnectDelayJitter", defaults.ReconnectDelayJitter),
            MaxReconnectAttempts = reader.Int("maxReconnectAttempts", defaults.MaxReconnectAttempts),
            StartupMaxReconnectAttempts = reader.Int("startupMaxReconnectAttempts", defaults.StartupMaxReconnectAttempts),
            WarnAfterReconnectAttempts = reader.Int("warnAfterReconnectAttempts", defaults.WarnAfterReconnectAttempts),
            Timeout = timeout > 0 ? TimeSpan.FromMilliseconds(timeout) : System.Threading.Timeout.InfiniteTimeSpan,
            Backup = reader.Bool("backup", defaults.Backup),
            BackupPoolSize = reader.Int("backupPoolSize", defaults.BackupPoolSize),
            PriorityBackup = reader.Bool("priorityBackup", defaults.PriorityBackup),
            PriorityUris = reader.String("priorityURIs", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            TrackMessages = reader.Bool("trackMessages", defaults.TrackMessages),
            MaxCacheSize = reader.Int("maxCacheSize", defaults.MaxCacheSize),
            TrackTransactionProducers = reader.Bool("trackTransactionProducers", defaults.TrackTransactionProducers),
            UpdateUrisSupported = reader.Bool("updateURIsSupported", defaults.UpdateUrisSupported),
            RebalanceUpdateUris = reader.Bool("rebalanceUpdateURIs", defaults.RebalanceUpdateUris),
            ReconnectSupported = reader.Bool("reconnectSupported", defaults.ReconnectSupported),
            NestedOptions = nested,
        };
        reader.RejectUnknown();
        options.Validate(uri.ToString());
        return options;
    }

    private void Validate(string uri)
    {
        if (ReconnectDelayExponent < 1.0 || double.IsNaN(ReconnectDelayExponent) || double.IsInfinity(ReconnectDelayExponent))
        {
            throw new FormatException($"reconnectDelayExponent must be at least 1 (transport URI '{uri}')");
        }
        if (ReconnectDelayJitter is < 0 or >= 1 || double.IsNaN(ReconnectDelayJitter))
        {
            throw new FormatException($"reconnectDelayJitter must be in [0, 1) (transport URI '{uri}')");
        }
        if (BackupPoolSize < 0 || MaxCacheSize < 0)
        {
            throw new FormatException($"backupPoolSize and maxCacheSize must not be negative (transport URI '{uri}')");
        }
        // Every inner URI, with the nested options applied, must be a valid endpoint now rather than at the first reconnect.
        foreach (var inner in Uris.Concat(PriorityUris))
        {
            Endpoint(inner);
        }
    }

    /// <summary>The endpoint options of an inner URI with the <c>nested.*</c> options applied.</summary>
    public TcpTransportOptions Endpoint(string innerUri)
    {
        var parsed = TransportUri.Parse(innerUri);
        if (parsed.IsComposite)
        {
            throw new FormatException($"Nested composite URI '{innerUri}' is not supported inside failover:()");
        }
        var extra = NestedOptions.Where(kv => !parsed.Options.ContainsKey(kv.Key))
            .Select(kv => Uri.EscapeDataString(kv.Key) + "=" + Uri.EscapeDataString(kv.Value))
            .ToList();
        if (extra.Count == 0)
        {
            return TcpTransportOptions.From(parsed);
        }
        string text = parsed.Original + (parsed.Original.Contains('?', StringComparison.Ordinal) ? "&" : "?") + string.Join('&', extra);
        return TcpTransportOptions.Parse(text);
    }

    /// <summary>The identity of an endpoint for comparing URIs: host (case-insensitive) and port, as ActiveMQ compares them.</summary>
    public static string EndpointKey(TcpTransportOptions endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return string.Create(CultureInfo.InvariantCulture, $"{endpoint.Host.ToLowerInvariant()}:{endpoint.Port}");
    }

    private static TimeSpan Millis(TransportOptionReader reader, TransportUri uri, string name, long fallback)
    {
        long value = reader.Long(name, fallback);
        if (value < 0)
        {
            throw new FormatException($"Option '{name}={value}' in transport URI '{uri}' must not be negative");
        }
        return TimeSpan.FromMilliseconds(value);
    }

    private static double Double(TransportOptionReader reader, TransportUri uri, string name, double fallback) => reader.TryGet(name, out var v)
        ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
            : throw new FormatException($"Option '{name}={v}' in transport URI '{uri}' must be a number")
        : fallback;
}
