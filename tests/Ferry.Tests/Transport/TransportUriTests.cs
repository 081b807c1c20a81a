using Ferry.Protocol.Transport;

namespace Ferry.Tests.Transport;

/// <summary>ActiveMQ-style transport URIs: tcp/nio endpoints with wireFormat options, and failover/static composites.</summary>
public sealed class TransportUriTests
{
    [Fact]
    public void Tcp_uri_gives_scheme_host_and_port()
    {
        var uri = TransportUri.Parse("tcp://127.0.0.1:61616");
        Assert.Equal("tcp", uri.Scheme);
        Assert.Equal("127.0.0.1", uri.Host);
        Assert.Equal(61616, uri.Port);
        Assert.Empty(uri.Options);
        Assert.False(uri.IsComposite);
        Assert.Equal("tcp://127.0.0.1:61616", uri.ToString());
    }

    [Theory]
    [InlineData("nio://broker.example:5672", "nio", "broker.example", 5672)]
    [InlineData("NIO://host:1", "nio", "host", 1)]
    [InlineData("tcp://0.0.0.0:61616/", "tcp", "0.0.0.0", 61616)]
    [InlineData("  tcp://localhost:0  ", "tcp", "localhost", 0)]
    public void Tcp_and_nio_endpoints_parse_into_tcp_transport_options(string text, string scheme, string host, int port)
    {
        var options = TcpTransportOptions.Parse(text);
        Assert.Equal(scheme, options.Scheme);
        Assert.Equal(host, options.Host);
        Assert.Equal(port, options.Port);
    }

    [Theory]
    [InlineData("tcp://[::1]:5", "::1", 5)]
    [InlineData("tcp://[fe80::1%25eth0]:61616", "fe80::1%25eth0", 61616)]
    [InlineData("tcp://[2001:db8::7]:61616?wireFormat.cacheEnabled=true", "2001:db8::7", 61616)]
    public void Ipv6_hosts_are_written_in_brackets(string text, string host, int port)
    {
        var uri = TransportUri.Parse(text);
        Assert.Equal(host, uri.Host);
        Assert.Equal(port, uri.Port);
    }

    [Fact]
    public void Unclosed_ipv6_bracket_is_refused()
    {
        Assert.Throws<FormatException>(() => TransportUri.Parse("tcp://[::1:5"));
    }

    [Fact]
    public void Wire_format_options_are_parsed_into_the_tcp_options()
    {
        var options = TcpTransportOptions.Parse(
            "tcp://0.0.0.0:61616?wireFormat.maxInactivityDuration=5000&wireFormat.tightEncodingEnabled=false" +
            "&wireFormat.cacheEnabled=true&wireFormat.cacheSize=256&wireFormat.maxFrameSize=1048576" +
            "&wireFormat.maxInactivityDurationInitalDelay=2000&wireFormat.stackTraceEnabled=true" +
            "&wireFormat.tcpNoDelayEnabled=false&wireFormat.version=10&maximumConnections=50&connectionTimeout=1500");

        var wf = options.WireFormat;
        Assert.Equal(5000, wf.MaxInactivityDuration);
        Assert.False(wf.TightEncodingEnabled);
        Assert.True(wf.CacheEnabled);
        Assert.Equal(256, wf.CacheSize);
        Assert.Equal(1_048_576, wf.MaxFrameSize);
        Assert.Equal(2000, wf.MaxInactivityDurationInitialDelay);
        Assert.True(wf.StackTraceEnabled);
        Assert.False(wf.TcpNoDelayEnabled);
        Assert.Equal(10, wf.Version);
        Assert.Equal(50, options.MaximumConnections);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.ConnectionTimeout);
    }

    [Fact]
    public void Options_left_out_keep_the_defaults()
    {
        var options = TcpTransportOptions.Parse("tcp://localhost:61616");
        Assert.Equal(new Ferry.Protocol.OpenWire.WireFormatOptions(), options.WireFormat);
        Assert.Equal(int.MaxValue, options.MaximumConnections);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ConnectionTimeout);
        Assert.Equal(8L * 1024 * 1024, options.MaxPendingOutputBytes);
    }

    [Fact]
    public void MaxPendingOutputBytes_is_read_and_must_be_positive()
    {
        Assert.Equal(262_144, TcpTransportOptions.Parse("tcp://localhost:61616?maxPendingOutputBytes=262144").MaxPendingOutputBytes);
        var error = Assert.Throws<FormatException>(() => TcpTransportOptions.Parse("tcp://localhost:61616?maxPendingOutputBytes=0"));
        Assert.Contains("maxPendingOutputBytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Correctly_spelt_initial_delay_is_accepted_too()
    {
        var options = TcpTransportOptions.Parse("tcp://localhost:61616?wireFormat.maxInactivityDurationInitialDelay=777");
        Assert.Equal(777, options.WireFormat.MaxInactivityDurationInitialDelay);
    }

    [Fact]
    public void Option_names_are_case_insensitive_and_values_unescaped()
    {
        var uri = TransportUri.Parse("tcp://h:1?WIREFORMAT.CACHEENABLED=true&name=a%20b");
        Assert.Equal("true", uri.Options["wireFormat.cacheEnabled"]);
        Assert.Equal("a b", uri.Options["name"]);
    }

    [Fact]
    public void Unknown_option_is_refused_with_its_name()
    {
        var e = Assert.Throws<FormatException>(() => TcpTransportOptions.Parse("tcp://localhost:61616?wireFormat.cacheEnabled=true&jms.bogusOption=1"));
        Assert.Contains("'jms.bogusOption'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'wireFormat.cacheEnabled'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tcp://localhost:abc")]
    [InlineData("tcp://localhost:65536")]
    [InlineData("tcp://localhost:-1")]
    [InlineData("tcp://localhost:+5")]
    [InlineData("tcp://localhost:99999999999")]
    [InlineData("tcp://[::1]:x")]
    public void Bad_port_is_refused(string text)
    {
        var e = Assert.Throws<FormatException>(() => TransportUri.Parse(text));
        Assert.Contains("port", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wireFormat.tightEncodingEnabled", "yes")]
    [InlineData("wireFormat.cacheEnabled", "1")]
    [InlineData("wireFormat.stackTraceEnabled", "")]
    public void Bad_boolean_is_refused_with_the_option_and_value(string name, string value)
    {
        var e = Assert.Throws<FormatException>(() => TcpTransportOptions.Parse($"tcp://localhost:61616?{name}={value}"));
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
        Assert.Contains("true or false", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wireFormat.maxInactivityDuration", "30s")]
    [InlineData("wireFormat.maxFrameSize", "1e6")]
    [InlineData("wireFormat.cacheSize", "99999999999")]
    public void Bad_number_is_refused_with_the_option_name(string name, string value)
    {
        var e = Assert.Throws<FormatException>(() => TcpTransportOptions.Parse($"tcp://localhost:61616?{name}={value}"));
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tcp://localhost:61616?wireFormat.maxFrameSize=0")]
    [InlineData("tcp://localhost:61616?wireFormat.maxFrameSize=-5")]
    [InlineData("tcp://localhost:61616?wireFormat.sizePrefixDisabled=true")]
    [InlineData("failover:(tcp://a:1)")]
    [InlineData("udp://localhost:61616")]
    public void Settings_the_tcp_transport_cannot_honour_are_refused(string text)
    {
        Assert.Throws<FormatException>(() => TcpTransportOptions.Parse(text));
    }

    [Theory]
    [InlineData("localhost:61616")]    // no scheme separator before the host
    [InlineData("://localhost:61616")] // empty scheme
    [InlineData("tcp:localhost:61616")]
    [InlineData("tcp://:61616")]        // no host
    [InlineData("tcp://h:1?novalue")]
    [InlineData("tcp://h:1?=v")]
    public void Malformed_uris_are_refused(string text)
    {
        Assert.Throws<FormatException>(() => TransportUri.Parse(text));
    }

    [Fact]
    public void Failover_uri_lists_its_components_and_its_own_options()
    {
        var uri = TransportUri.Parse("failover:(tcp://a:1,tcp://b:2)?randomize=false&maxReconnectAttempts=3");

        Assert.Equal("failover", uri.Scheme);
        Assert.True(uri.IsComposite);
        Assert.Equal(2, uri.Components.Count);
        Assert.Equal(("tcp", "a", 1), (uri.Components[0].Scheme, uri.Components[0].Host, uri.Components[0].Port));
        Assert.Equal(("tcp", "b", 2), (uri.Components[1].Scheme, uri.Components[1].Host, uri.Components[1].Port));
        Assert.Equal("false", uri.Options["randomize"]);
        Assert.Equal("3", uri.Options["maxReconnectAttempts"]);
        Assert.Empty(uri.Components[0].Options);
    }

    [Fact]
    public void Component_options_stay_with_their_component()
    {
        var uri = TransportUri.Parse("failover:(tcp://a:1?wireFormat.cacheEnabled=false, nio://b:2?wireFormat.tightEncodingEnabled=true)?randomize=false");
        Assert.Equal("false", uri.Components[0].Options["wireFormat.cacheEnabled"]);
        Assert.Equal("nio", uri.Components[1].Scheme);
        Assert.Equal("true", uri.Components[1].Options["wireFormat.tightEncodingEnabled"]);
        Assert.Single(uri.Options);
        Assert.False(TcpTransportOptions.From(uri.Components[0]).WireFormat.CacheEnabled);
    }

    [Fact]
    public void Nested_composites_keep_their_parentheses_together()
    {
        var uri = TransportUri.Parse("failover:(static:(tcp://x:1,tcp://y:2),tcp://z:3)?randomize=false");

        Assert.Equal(2, uri.Components.Count);
        var inner = uri.Components[0];
        Assert.Equal("static", inner.Scheme);
        Assert.Equal(new[] { "x", "y" }, inner.Components.Select(c => c.Host));
        Assert.Equal("z", uri.Components[1].Host);
        Assert.Equal("false", uri.Options["randomize"]);
    }

    [Fact]
    public void Static_uri_with_one_component()
    {
        var uri = TransportUri.Parse("static:(tcp://x:1)");
        Assert.Equal("static", uri.Scheme);
        var only = Assert.Single(uri.Components);
        Assert.Equal(("tcp", "x", 1), (only.Scheme, only.Host, only.Port));
        Assert.Empty(uri.Options);
    }

    [Fact]
    public void Failover_without_parentheses_is_a_comma_separated_list()
    {
        var uri = TransportUri.Parse("failover:tcp://a:1,tcp://b:2");
        Assert.Equal(new[] { "a", "b" }, uri.Components.Select(c => c.Host));
    }

    [Theory]
    [InlineData("failover:(tcp://a:1")]
    [InlineData("failover:(tcp://a:1)x")]
    [InlineData("failover:()")]
    [InlineData("static:(tcp://a:bad)")]
    public void Malformed_composites_are_refused(string text)
    {
        Assert.Throws<FormatException>(() => TransportUri.Parse(text));
    }

    [Theory]
    [InlineData("failover://(tcp://a:1,tcp://b:2)?randomize=false")]
    [InlineData("static://(tcp://a:1,tcp://b:2)?randomize=false")]
    public void Composite_uri_written_with_a_double_slash_is_accepted_as_activemq_does(string text)
    {
        // ActiveMQ's URISupport.parseComposite strips a leading "//" from the scheme-specific part, so
        // "failover://(tcp://a:1,tcp://b:2)" is a common, valid spelling of a failover URI.
        var uri = TransportUri.Parse(text);
        Assert.Equal(new[] { "a", "b" }, uri.Components.Select(c => c.Host));
        Assert.Equal("false", uri.Options["randomize"]);
    }
}
