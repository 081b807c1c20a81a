using System.Buffers;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Tests.OpenWire;

/// <summary>WireFormatOptions.Negotiate: flags are ANDed, sizes and durations take the minimum (openwire.md 3.3).</summary>
public sealed class NegotiationTests
{
    private static readonly string CaptureDir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "captures");

    private static WireFormatInfo Remote(WireFormatOptions options, Action<Dictionary<string, object?>>? edit = null)
    {
        var info = WireFormatInfo.From(options);
        if (edit is not null)
        {
            var properties = info.Properties;
            edit(properties);
            info.Properties = properties;
        }
        return info;
    }

    public static TheoryData<bool, bool> BothFlags() => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(BothFlags))]
    public void Boolean_options_are_enabled_only_when_both_sides_enable_them(bool local, bool remote)
    {
        var ours = new WireFormatOptions { TightEncodingEnabled = local, CacheEnabled = local, StackTraceEnabled = local, TcpNoDelayEnabled = local };
        var theirs = new WireFormatOptions { TightEncodingEnabled = remote, CacheEnabled = remote, StackTraceEnabled = remote, TcpNoDelayEnabled = remote };

        var result = ours.Negotiate(Remote(theirs));

        Assert.Equal(local && remote, result.TightEncoding);
        Assert.Equal(local && remote, result.CacheEnabled);
        Assert.Equal(local && remote, result.StackTraceEnabled);
        Assert.Equal(local && remote, result.TcpNoDelay);
    }

    [Fact]
    public void Size_prefix_is_left_out_only_when_both_sides_ask()
    {
        var ours = new WireFormatOptions { SizePrefixDisabled = true };
        Assert.True(ours.Negotiate(Remote(new WireFormatOptions { SizePrefixDisabled = true })).SizePrefixDisabled);
        Assert.False(ours.Negotiate(Remote(new WireFormatOptions())).SizePrefixDisabled);
        Assert.False(new WireFormatOptions().Negotiate(Remote(ours)).SizePrefixDisabled);
    }

    [Theory]
    [InlineData("TightEncodingEnabled")]
    [InlineData("CacheEnabled")]
    [InlineData("StackTraceEnabled")]
    [InlineData("TcpNoDelayEnabled")]
    public void Missing_or_non_boolean_flags_count_as_false(string key)
    {
        var everything = new WireFormatOptions { TightEncodingEnabled = true, CacheEnabled = true, StackTraceEnabled = true, TcpNoDelayEnabled = true };
        var withoutKey = everything.Negotiate(Remote(everything, p => p.Remove(key)));
        var asString = everything.Negotiate(Remote(everything, p => p[key] = "true"));
        var asInt = everything.Negotiate(Remote(everything, p => p[key] = 1));

        foreach (var result in new[] { withoutKey, asString, asInt })
        {
            bool value = key switch
            {
                "TightEncodingEnabled" => result.TightEncoding,
                "CacheEnabled" => result.CacheEnabled,
                "StackTraceEnabled" => result.StackTraceEnabled,
                _ => result.TcpNoDelay,
            };
            Assert.False(value);
        }
        Assert.True(everything.Negotiate(Remote(everything)).TightEncoding);
    }

    [Theory]
    [InlineData(12, 12, 12)]
    [InlineData(12, 9, 9)]
    [InlineData(9, 12, 9)]
    [InlineData(10, 11, 10)]
    [InlineData(12, 0, 12)]  // an unset remote version: ours wins
    [InlineData(12, -1, 12)]
    [InlineData(0, 11, 11)]  // an unset local version: theirs wins
    public void Version_is_the_lower_of_the_two_ignoring_unset_values(int local, int remote, int expected)
    {
        var result = new WireFormatOptions { Version = local }.Negotiate(Remote(new WireFormatOptions { Version = remote }));
        Assert.Equal(expected, result.Version);
    }

    [Fact]
    public void Both_versions_unset_is_refused()
    {
        Assert.Throws<ProtocolException>(() => new WireFormatOptions { Version = 0 }.Negotiate(Remote(new WireFormatOptions { Version = 0 })));
    }

    [Theory]
    [InlineData(30_000, 30_000, 30_000)]
    [InlineData(30_000, 5_000, 5_000)]
    [InlineData(5_000, 30_000, 5_000)]
    [InlineData(30_000, 0, 0)] // 0 on either side turns monitoring off
    [InlineData(0, 30_000, 0)]
    public void Inactivity_duration_and_initial_delay_take_the_minimum(long local, long remote, long expected)
    {
        var ours = new WireFormatOptions { MaxInactivityDuration = local, MaxInactivityDurationInitialDelay = local / 3 };
        var theirs = new WireFormatOptions { MaxInactivityDuration = remote, MaxInactivityDurationInitialDelay = remote / 3 };

        var result = ours.Negotiate(Remote(theirs));

        Assert.Equal(expected, result.MaxInactivityDuration);
        Assert.Equal(expected / 3, result.MaxInactivityDurationInitialDelay);
    }

    [Fact]
    public void Initial_delay_is_read_from_the_misspelt_java_key()
    {
        var ours = new WireFormatOptions();
        var result = ours.Negotiate(Remote(ours, p =>
        {
            Assert.True(p.ContainsKey("MaxInactivityDurationInitalDelay"));
            p["MaxInactivityDurationInitalDelay"] = 1234L;
        }));
        Assert.Equal(1234, result.MaxInactivityDurationInitialDelay);
    }

    [Fact]
    public void Durations_sent_as_ints_are_accepted()
    {
        var ours = new WireFormatOptions();
        var result = ours.Negotiate(Remote(ours, p => p["MaxInactivityDuration"] = 4000));
        Assert.Equal(4000, result.MaxInactivityDuration);
    }

    [Theory]
    [InlineData(1024, 1024, 1024)]
    [InlineData(1024, 512, 512)]
    [InlineData(256, 1024, 256)]
    [InlineData(1024, 0, 16383)] // a minimum of 0 means the default table size
    [InlineData(0, 1024, 16383)]
    public void Cache_size_is_the_minimum_and_zero_means_16383(int local, int remote, int expected)
    {
        var ours = new WireFormatOptions { CacheEnabled = true, CacheSize = local };
        var result = ours.Negotiate(Remote(new WireFormatOptions { CacheEnabled = true, CacheSize = remote }));
        Assert.True(result.CacheEnabled);
        Assert.Equal(expected, result.CacheSize);
    }

    [Fact]
    public void Cache_size_is_zero_when_the_cache_is_off()
    {
        var ours = new WireFormatOptions { CacheEnabled = true, CacheSize = 512 };
        var result = ours.Negotiate(Remote(new WireFormatOptions { CacheEnabled = false, CacheSize = 512 }));
        Assert.False(result.CacheEnabled);
        Assert.Equal(0, result.CacheSize);
    }

    [Theory]
    [InlineData(1_000_000, long.MaxValue, 1_000_000)]
    [InlineData(1_000_000, 5_000, 5_000)]
    [InlineData(1_000_000, 0, 1_000_000)]  // non-positive remote values do not count
    [InlineData(1_000_000, -1, 1_000_000)]
    public void Max_frame_size_is_the_minimum_of_positive_values(long local, long remote, long expected)
    {
        var result = new WireFormatOptions { MaxFrameSize = local }.Negotiate(Remote(new WireFormatOptions { MaxFrameSize = remote }));
        Assert.Equal(expected, result.MaxFrameSize);
    }

    [Fact]
    public void Invalid_magic_is_refused()
    {
        var wrong = Remote(new WireFormatOptions());
        wrong.Magic = "ActiveMX"u8.ToArray();
        var e = Assert.Throws<ProtocolException>(() => new WireFormatOptions().Negotiate(wrong));
        Assert.Contains("magic", e.Message, StringComparison.OrdinalIgnoreCase);

        var missing = Remote(new WireFormatOptions());
        missing.Magic = null;
        Assert.Throws<ProtocolException>(() => new WireFormatOptions().Negotiate(missing));

        var shortMagic = Remote(new WireFormatOptions());
        shortMagic.Magic = "Active"u8.ToArray();
        Assert.Throws<ProtocolException>(() => new WireFormatOptions().Negotiate(shortMagic));
    }

    private static WireFormatInfo CapturedJavaClientWireFormat()
    {
        byte[] stream = File.ReadAllBytes(Path.Combine(CaptureDir, "tight.1.c2s"));
        using var codec = new OpenWireFormat(long.MaxValue);
        var buffer = new ReadOnlySequence<byte>(stream);
        Assert.True(codec.TryReadFrame(ref buffer, out var first));
        Assert.Equal(stream.Length - 360, buffer.Length);
        return Assert.IsType<WireFormatInfo>(first);
    }

    [Fact]
    public void Captured_java_client_wire_format_holds_the_documented_defaults()
    {
        var info = CapturedJavaClientWireFormat();
        var p = info.Properties;

        Assert.True(info.HasValidMagic);
        Assert.Equal(12, info.Version);
        Assert.Equal(14, p.Count);
        Assert.True(p["TightEncodingEnabled"] is true, "TightEncodingEnabled");
        Assert.True(p["CacheEnabled"] is true, "CacheEnabled");
        Assert.Equal(1024, p["CacheSize"]);
        Assert.True(p["SizePrefixDisabled"] is false, "SizePrefixDisabled");
        Assert.True(p["StackTraceEnabled"] is true, "StackTraceEnabled");
        Assert.Equal(30_000L, p["MaxInactivityDuration"]);
        Assert.Equal(10_000L, p["MaxInactivityDurationInitalDelay"]);
        Assert.Equal(long.MaxValue, p["MaxFrameSize"]);
        Assert.Equal("127.0.0.1", p["Host"]);
        Assert.Equal("5.17.2", p["ProviderVersion"]);
    }

    [Fact]
    public void Java_client_defaults_against_ferry_defaults_give_tight_without_cache_at_version_12()
    {
        var result = new WireFormatOptions().Negotiate(CapturedJavaClientWireFormat());

        Assert.True(result.TightEncoding);
        Assert.False(result.CacheEnabled);
        Assert.Equal(0, result.CacheSize);
        Assert.Equal(12, result.Version);
        Assert.Equal(30_000, result.MaxInactivityDuration);
        Assert.Equal(10_000, result.MaxInactivityDurationInitialDelay);
        Assert.False(result.StackTraceEnabled); // Ferry does not ask for stack traces
        Assert.False(result.SizePrefixDisabled);
        Assert.True(result.TcpNoDelay);
        Assert.Equal(new WireFormatOptions().MaxFrameSize, result.MaxFrameSize);
    }

    [Fact]
    public void Ferry_wire_format_info_round_trips_and_negotiates_with_itself()
    {
        var options = new WireFormatOptions { CacheEnabled = true, CacheSize = 300, Host = "h\u00f6st", MaxFrameSize = 4096 };
        var info = WireFormatInfo.From(options);
        var decoded = Assert.IsType<WireFormatInfo>(OpenWireSamples.DecodeOne(OpenWireSamples.Frame(info, NegotiatedWireFormat.Initial(long.MaxValue)), NegotiatedWireFormat.Initial(long.MaxValue)));

        Assert.Equal(options.ToProperties(), decoded.Properties);
        var result = options.Negotiate(decoded);
        Assert.Equal(new NegotiatedWireFormat(12, true, true, 300, false, false, true, 30_000, 10_000, 4096), result);
    }

    [Fact]
    public void Write_check_interval_is_a_third_of_the_inactivity_duration()
    {
        var settings = OpenWireSamples.Settings() with { MaxInactivityDuration = 30_000 };
        Assert.Equal(TimeSpan.FromSeconds(30), settings.ReadCheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.WriteCheckInterval);
    }
}
