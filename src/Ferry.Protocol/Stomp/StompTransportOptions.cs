using System.Globalization;
using Ferry.Protocol.Transport;

namespace Ferry.Protocol.Stomp;

/// <summary>
/// Options of a STOMP listener: <c>stomp://</c>, <c>stomp+nio://</c> (the same asynchronous
/// implementation) or <c>ws://</c> (STOMP over WebSocket). Option names are ActiveMQ's; unknown
/// options are errors.
/// </summary>
public sealed record StompTransportOptions
{
    public static readonly IReadOnlySet<string> Schemes = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "stomp", "stomp+nio", "ws" };

    public static StompTransportOptions Default { get; } = new() { Scheme = "stomp", Host = "127.0.0.1", Port = 0 };

    public required string Scheme { get; init; }
    public required string Host { get; init; }
    public required int Port { get; init; }

    /// <summary>Frame limits (ActiveMQ <c>wireFormat.maxDataLength</c>, <c>wireFormat.maxFrameSize</c>).</summary>
    public StompParserOptions Parser { get; init; } = new();

    /// <summary>Connections refused beyond this many at once.</summary>
    public int MaximumConnections { get; init; } = int.MaxValue;

    /// <summary>A client that sends no CONNECT within this time is dropped (<c>wireFormat.connectionAttemptTimeout</c>).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Heart-beat used when CONNECT has none (<c>transport.defaultHeartBeat</c>, "cx,cy").</summary>
    public (long ClientSends, long ClientWants) DefaultHeartBeat { get; init; }

    /// <summary>
    /// A client promising a heart-beat every cx ms is dropped after about cx × this of silence
    /// (<c>transport.hbGracePeriodMultiplier</c>). The check runs every cx × multiplier, so a silent
    /// client goes after between one and two such periods.
    /// </summary>
    public double HeartBeatGracePeriodMultiplier { get; init; } = 1.5;

    public bool IsWebSocket => string.Equals(Scheme, "ws", StringComparison.OrdinalIgnoreCase);

    public static StompTransportOptions From(TransportUri uri)
    {
        if (!Schemes.Contains(uri.Scheme) || uri.IsComposite)
        {
            throw new FormatException($"Transport URI '{uri}' has scheme '{uri.Scheme}', expected stomp, stomp+nio or ws");
        }
        var reader = new TransportOptionReader(uri);
        var parserDefaults = new StompParserOptions();
        long maxData = reader.Long("wireFormat.maxDataLength", parserDefaults.MaxBodySize);
        long maxFrame = reader.Long("wireFormat.maxFrameSize", parserDefaults.MaxFrameSize);
        if (maxData <= 0 || maxFrame <= 0)
        {
            throw new FormatException($"wireFormat.maxDataLength and wireFormat.maxFrameSize must be positive (transport URI '{uri}')");
        }
        string heartBeat = reader.String("transport.defaultHeartBeat", "0,0");
        if (!TryParseHeartBeat(heartBeat, out var defaultHeartBeat))
        {
            throw new FormatException($"transport.defaultHeartBeat must be 'cx,cy' in milliseconds, not '{heartBeat}' (transport URI '{uri}')");
        }
        double grace = 1.5;
        if (reader.TryGet("transport.hbGracePeriodMultiplier", out string graceText)
            && (!double.TryParse(graceText, NumberStyles.Float, CultureInfo.InvariantCulture, out grace) || grace < 1.0))
        {
            throw new FormatException($"transport.hbGracePeriodMultiplier must be a number of at least 1.0, not '{graceText}' (transport URI '{uri}')");
        }
        var options = new StompTransportOptions
        {
            Scheme = uri.Scheme,
            Host = uri.Host,
            Port = uri.Port,
            Parser = parserDefaults with { MaxBodySize = maxData, MaxFrameSize = maxFrame },
            MaximumConnections = reader.Int("maximumConnections", int.MaxValue),
            ConnectTimeout = TimeSpan.FromMilliseconds(reader.Long("wireFormat.connectionAttemptTimeout", reader.Long("connectionTimeout", 30_000))),
            DefaultHeartBeat = defaultHeartBeat,
            HeartBeatGracePeriodMultiplier = grace,
        };
        reader.RejectUnknown();
        return options;
    }

    /// <summary>Parses a <c>heart-beat</c> value "cx,cy" (two non-negative millisecond counts).</summary>
    public static bool TryParseHeartBeat(string value, out (long ClientSends, long ClientWants) heartBeat)
    {
        heartBeat = default;
        var parts = value.Split(',');
        if (parts.Length != 2
            || !long.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long cx)
            || !long.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long cy))
        {
            return false;
        }
        heartBeat = (cx, cy);
        return true;
    }
}
