using System.Globalization;
using Ferry.Protocol.OpenWire;

namespace Ferry.Protocol.Transport;

/// <summary>
/// A transport URI as ActiveMQ writes them: <c>tcp://host:port?opt=v</c>, or a composite
/// <c>failover:(uri,uri)?opt=v</c> / <c>static:(uri)</c> whose parts are URIs themselves.
/// </summary>
public sealed class TransportUri
{
    private TransportUri(string scheme, string host, int port, IReadOnlyDictionary<string, string> options, IReadOnlyList<TransportUri> components, string original)
    {
        Scheme = scheme;
        Host = host;
        Port = port;
        Options = options;
        Components = components;
        Original = original;
    }

    public string Scheme { get; }
    public string Host { get; }
    public int Port { get; }
    public IReadOnlyDictionary<string, string> Options { get; }
    /// <summary>The inner URIs of a composite (failover, static); empty otherwise.</summary>
    public IReadOnlyList<TransportUri> Components { get; }
    public string Original { get; }

    public bool IsComposite => Components.Count > 0;

    public override string ToString() => Original;

    public static TransportUri Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new FormatException($"Transport URI '{text}' has no scheme");
        }
        string scheme = text[..colon].ToLowerInvariant();
        string rest = text[(colon + 1)..];

        if (scheme is "failover" or "static" or "fanout" && rest.StartsWith("//", StringComparison.Ordinal))
        {
            // ActiveMQ accepts failover://(a,b) as well as failover:(a,b).
            rest = rest[2..];
        }
        if (rest.StartsWith('(') || (!rest.StartsWith("//", StringComparison.Ordinal) && scheme is "failover" or "static" or "fanout"))
        {
            return ParseComposite(scheme, rest, text);
        }
        if (!rest.StartsWith("//", StringComparison.Ordinal))
        {
            throw new FormatException($"Transport URI '{text}' must look like scheme://host:port");
        }
        rest = rest[2..];
        string query = "";
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        rest = rest.TrimEnd('/');
        string host;
        string portText;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Transport URI '{text}' has an unclosed IPv6 address");
            }
            host = rest[1..close];
            portText = rest[(close + 1)..].TrimStart(':');
        }
        else
        {
            int pc = rest.LastIndexOf(':');
            host = pc >= 0 ? rest[..pc] : rest;
            portText = pc >= 0 ? rest[(pc + 1)..] : "";
        }
        int port = 0;
        if (portText.Length > 0 && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new FormatException($"Transport URI '{text}' has an invalid port '{portText}'");
        }
        if (host.Length == 0)
        {
            throw new FormatException($"Transport URI '{text}' has no host");
        }
        return new TransportUri(scheme, host, port, ParseQuery(query, text), [], text);
    }

    private static TransportUri ParseComposite(string scheme, string rest, string original)
    {
        string inner;
        string query = "";
        if (rest.StartsWith('('))
        {
            int depth = 0, close = -1;
            for (int i = 0; i < rest.Length; i++)
            {
                if (rest[i] == '(')
                {
                    depth++;
                }
                else if (rest[i] == ')' && --depth == 0)
                {
                    close = i;
                    break;
                }
            }
            if (close < 0)
            {
                throw new FormatException($"Transport URI '{original}' has unbalanced parentheses");
            }
            inner = rest[1..close];
            string after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != '?')
                {
                    throw new FormatException($"Transport URI '{original}' has unexpected text after ')'");
                }
                query = after[1..];
            }
        }
        else
        {
            // failover:tcp://a:1 without parentheses
            int q = rest.IndexOf('?', StringComparison.Ordinal);
            inner = q >= 0 ? rest[..q] : rest;
            query = q >= 0 ? rest[(q + 1)..] : "";
        }
        var parts = SplitTopLevel(inner).Select(Parse).ToList();
        if (parts.Count == 0)
        {
            throw new FormatException($"Transport URI '{original}' lists no URIs");
        }
        return new TransportUri(scheme, "", 0, ParseQuery(query, original), parts, original);
    }

    private static List<string> SplitTopLevel(string text)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    parts.Add(text[start..i]);
                    start = i + 1;
                    break;
            }
        }
        parts.Add(text[start..]);
        return parts.Select(p => p.Trim()).Where(p => p.Length > 0).ToList();
    }

    private static Dictionary<string, string> ParseQuery(string query, string original)
    {
        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"Transport URI '{original}' has a malformed option '{pair}'");
            }
            options[Uri.UnescapeDataString(pair[..eq])] = Uri.UnescapeDataString(pair[(eq + 1)..]);
        }
        return options;
    }
}

/// <summary>Reads typed option values out of a URI's query, and refuses any option nobody consumed.</summary>
public sealed class TransportOptionReader
{
    private readonly TransportUri _uri;
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    public TransportOptionReader(TransportUri uri) => _uri = uri;

    public bool TryGet(string name, out string value)
    {
        _used.Add(name);
        return _uri.Options.TryGetValue(name, out value!);
    }

    public long Long(string name, long fallback) => TryGet(name, out var v)
        ? long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : throw Invalid(name, v, "an integer")
        : fallback;

    public int Int(string name, int fallback) => TryGet(name, out var v)
        ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : throw Invalid(name, v, "an integer")
        : fallback;

    public bool Bool(string name, bool fallback) => TryGet(name, out var v)
        ? bool.TryParse(v, out var b) ? b : throw Invalid(name, v, "true or false")
        : fallback;

    public string String(string name, string fallback) => TryGet(name, out var v) ? v : fallback;

    /// <summary>Throws if the URI holds an option that no reader asked for.</summary>
    public void RejectUnknown()
    {
        var unknown = _uri.Options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new FormatException($"Unknown option(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))} in transport URI '{_uri}'");
        }
    }

    private FormatException Invalid(string name, string value, string expected) =>
        new($"Option '{name}={value}' in transport URI '{_uri}' must be {expected}");
}

/// <summary>Options of a <c>tcp://</c> or <c>nio://</c> endpoint, for a listener or a client connection.</summary>
public sealed record TcpTransportOptions
{
    public required string Scheme { get; init; }
    public required string Host { get; init; }
    public required int Port { get; init; }
    public WireFormatOptions WireFormat { get; init; } = new();
    /// <summary>Connections refused beyond this many at once (listener only).</summary>
    public int MaximumConnections { get; init; } = int.MaxValue;
    /// <summary>How long a new connection may take to send its WireFormatInfo.</summary>
    public TimeSpan ConnectionTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Client connection only: one-way sends wait once this much output is queued, until half of it is written.</summary>
    public long MaxPendingOutputBytes { get; init; } = 8L * 1024 * 1024;
    /// <summary>Listener: tell failover clients the cluster's broker URIs (ConnectionControl.connectedBrokers).</summary>
    public bool UpdateClusterClients { get; init; }
    /// <summary>Listener: ask failover clients to rebalance across the cluster when it changes.</summary>
    public bool RebalanceClusterClients { get; init; }
    /// <summary>Listener: also update clients when a broker leaves the cluster.</summary>
    public bool UpdateClusterClientsOnRemove { get; init; }

    public static readonly IReadOnlySet<string> TcpSchemes = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "tcp", "nio" };

    public static TcpTransportOptions Parse(string uri) => From(TransportUri.Parse(uri));

    /// <param name="uri">The URI.</param>
    /// <param name="defaults">What a <c>wireFormat.*</c> option left out means (a client's defaults unless given; a broker's listener passes <see cref="WireFormatOptions.Listener"/>).</param>
    public static TcpTransportOptions From(TransportUri uri, WireFormatOptions? defaults = null)
    {
        if (!TcpSchemes.Contains(uri.Scheme))
        {
            throw new FormatException($"Transport URI '{uri}' has scheme '{uri.Scheme}', expected tcp or nio");
        }
        var reader = new TransportOptionReader(uri);
        defaults ??= new WireFormatOptions();
        var wf = new WireFormatOptions
        {
            Version = reader.Int("wireFormat.version", defaults.Version),
            TightEncodingEnabled = reader.Bool("wireFormat.tightEncodingEnabled", defaults.TightEncodingEnabled),
            CacheEnabled = reader.Bool("wireFormat.cacheEnabled", defaults.CacheEnabled),
            CacheSize = reader.Int("wireFormat.cacheSize", defaults.CacheSize),
            StackTraceEnabled = reader.Bool("wireFormat.stackTraceEnabled", defaults.StackTraceEnabled),
            TcpNoDelayEnabled = reader.Bool("wireFormat.tcpNoDelayEnabled", defaults.TcpNoDelayEnabled),
            MaxInactivityDuration = reader.Long("wireFormat.maxInactivityDuration", defaults.MaxInactivityDuration),
            MaxInactivityDurationInitialDelay = reader.Long("wireFormat.maxInactivityDurationInitalDelay",
                reader.Long("wireFormat.maxInactivityDurationInitialDelay", defaults.MaxInactivityDurationInitialDelay)),
            MaxFrameSize = reader.Long("wireFormat.maxFrameSize", defaults.MaxFrameSize),
        };
        if (reader.Bool("wireFormat.sizePrefixDisabled", false))
        {
            throw new FormatException($"wireFormat.sizePrefixDisabled=true is not supported (transport URI '{uri}')");
        }
        if (wf.MaxFrameSize <= 0)
        {
            throw new FormatException($"wireFormat.maxFrameSize must be positive (transport URI '{uri}')");
        }
        var options = new TcpTransportOptions
        {
            Scheme = uri.Scheme,
            Host = uri.Host,
            Port = uri.Port,
            WireFormat = wf,
            MaximumConnections = reader.Int("maximumConnections", int.MaxValue),
            ConnectionTimeout = TimeSpan.FromMilliseconds(reader.Long("connectionTimeout", 30_000)),
            MaxPendingOutputBytes = reader.Long("maxPendingOutputBytes", 8L * 1024 * 1024),
            UpdateClusterClients = reader.Bool("updateClusterClients", false),
            RebalanceClusterClients = reader.Bool("rebalanceClusterClients", false),
            UpdateClusterClientsOnRemove = reader.Bool("updateClusterClientsOnRemove", false),
        };
        reader.RejectUnknown();
        if (options.MaxPendingOutputBytes <= 0)
        {
            throw new FormatException($"maxPendingOutputBytes must be positive (transport URI '{uri}')");
        }
        return options;
    }
}
