using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.OpenWire;

/// <summary>
/// The encoding a side prefers, advertised in its WireFormatInfo. Option names follow ActiveMQ's
/// (<c>wireFormat.tightEncodingEnabled</c> and so on).
/// </summary>
public sealed record WireFormatOptions
{
    public int Version { get; init; } = OpenWireFormat.CurrentVersion;
    public bool TightEncodingEnabled { get; init; } = true;

    /// <summary>
    /// The marshal cache: ids and destinations sent before go as a 2-byte index. Off by default for a client
    /// (Ferry.Client's connections are short on repeats and it keeps fan-out's shared encodings usable); on for a
    /// broker's listeners (<see cref="Listener"/>), as ActiveMQ's are, so clients that ask for it (the Java
    /// client does by default) get it.
    /// </summary>
    public bool CacheEnabled { get; init; }
    public int CacheSize { get; init; } = 1024;
    public bool SizePrefixDisabled { get; init; }
    public bool StackTraceEnabled { get; init; }
    public bool TcpNoDelayEnabled { get; init; } = true;
    /// <summary>A peer silent this long is dropped; 0 turns inactivity monitoring off for both sides.</summary>
    public long MaxInactivityDuration { get; init; } = 30_000;
    public long MaxInactivityDurationInitialDelay { get; init; } = 10_000;
    /// <summary>Frames announcing more are refused before any buffer is allocated (100 MiB, as ActiveMQ's connectors).</summary>
    public long MaxFrameSize { get; init; } = 100L * 1024 * 1024;
    public string? Host { get; init; }

    /// <summary>A broker listener's defaults: as a client's, with the marshal cache on (as ActiveMQ's connectors).</summary>
    public static WireFormatOptions Listener { get; } = new() { CacheEnabled = true };

    public Dictionary<string, object?> ToProperties()
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["TightEncodingEnabled"] = TightEncodingEnabled,
            ["CacheEnabled"] = CacheEnabled,
            ["CacheSize"] = CacheSize,
            ["SizePrefixDisabled"] = SizePrefixDisabled,
            ["StackTraceEnabled"] = StackTraceEnabled,
            ["TcpNoDelayEnabled"] = TcpNoDelayEnabled,
            ["MaxInactivityDuration"] = MaxInactivityDuration,
            ["MaxInactivityDurationInitalDelay"] = MaxInactivityDurationInitialDelay,
            ["MaxFrameSize"] = MaxFrameSize,
            ["MaxFrameSizeEnabled"] = true,
            ["ProviderName"] = "Ferry",
            ["ProviderVersion"] = "1.0",
            ["PlatformDetails"] = ".NET",
        };
        if (Host is not null)
        {
            map["Host"] = Host;
        }
        return map;
    }

    /// <summary>Combines our preferences with the peer's as ActiveMQ does: flags are ANDed, sizes take the minimum.</summary>
    public NegotiatedWireFormat Negotiate(WireFormatInfo remote)
    {
        if (!remote.HasValidMagic)
        {
            throw new ProtocolException("Remote wire format magic is invalid");
        }
        var p = remote.Properties;
        bool Flag(string key) => p.TryGetValue(key, out var v) && v is true;
        long Long(string key, long fallback) => p.TryGetValue(key, out var v) ? v switch
        {
            long l => l,
            int i => i,
            _ => fallback,
        } : fallback;

        int version = remote.Version <= 0 ? Version : Version <= 0 ? remote.Version : Math.Min(Version, remote.Version);
        if (version < 1)
        {
            throw new ProtocolException($"Unsupported OpenWire version {remote.Version}");
        }
        bool cache = CacheEnabled && Flag("CacheEnabled");
        int cacheSize = 0;
        if (cache)
        {
            cacheSize = (int)Math.Min(CacheSize, Long("CacheSize", CacheSize));
            if (cacheSize <= 0)
            {
                cacheSize = 16383;
            }
            // Cache indexes travel as i16.
            cacheSize = Math.Min(cacheSize, short.MaxValue);
        }
        long remoteFrame = Long("MaxFrameSize", long.MaxValue);
        long maxFrame = remoteFrame > 0 ? Math.Min(MaxFrameSize, remoteFrame) : MaxFrameSize;
        return new NegotiatedWireFormat(
            Version: version,
            TightEncoding: TightEncodingEnabled && Flag("TightEncodingEnabled"),
            CacheEnabled: cache,
            CacheSize: cacheSize,
            SizePrefixDisabled: SizePrefixDisabled && Flag("SizePrefixDisabled"),
            StackTraceEnabled: StackTraceEnabled && Flag("StackTraceEnabled"),
            TcpNoDelay: TcpNoDelayEnabled && Flag("TcpNoDelayEnabled"),
            MaxInactivityDuration: Math.Min(MaxInactivityDuration, Long("MaxInactivityDuration", MaxInactivityDuration)),
            MaxInactivityDurationInitialDelay: Math.Min(MaxInactivityDurationInitialDelay, Long("MaxInactivityDurationInitalDelay", MaxInactivityDurationInitialDelay)),
            MaxFrameSize: maxFrame);
    }
}

/// <summary>The settings both sides use after the WireFormatInfo exchange.</summary>
public sealed record NegotiatedWireFormat(
    int Version,
    bool TightEncoding,
    bool CacheEnabled,
    int CacheSize,
    bool SizePrefixDisabled,
    bool StackTraceEnabled,
    bool TcpNoDelay,
    long MaxInactivityDuration,
    long MaxInactivityDurationInitialDelay,
    long MaxFrameSize)
{
    /// <summary>How every connection starts: loose, size-prefixed, no cache.</summary>
    public static NegotiatedWireFormat Initial(long maxFrameSize) =>
        new(OpenWireFormat.CurrentVersion, false, false, 0, false, false, true, 0, 0, maxFrameSize);

    public TimeSpan ReadCheckInterval => TimeSpan.FromMilliseconds(MaxInactivityDuration);

    public TimeSpan WriteCheckInterval => MaxInactivityDuration > 3
        ? TimeSpan.FromMilliseconds(MaxInactivityDuration / 3)
        : TimeSpan.FromMilliseconds(MaxInactivityDuration);
}
