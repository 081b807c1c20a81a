using Ferry.Protocol.Transport;

namespace Ferry.Tests.Transport;

/// <summary>failover:(…)?options parse into FailoverOptions with ActiveMQ's names and defaults.</summary>
public sealed class FailoverOptionsTests
{
    [Fact]
    public void Defaults_are_activemqs()
    {
        var options = FailoverOptions.Parse("failover:(tcp://127.0.0.1:61616,tcp://127.0.0.1:61617)");
        Assert.Equal(["tcp://127.0.0.1:61616", "tcp://127.0.0.1:61617"], options.Uris);
        Assert.True(options.Randomize);
        Assert.Equal(TimeSpan.FromMilliseconds(10), options.InitialReconnectDelay);
        Assert.Equal(TimeSpan.FromMilliseconds(30_000), options.MaxReconnectDelay);
        Assert.True(options.UseExponentialBackOff);
        Assert.Equal(2.0, options.ReconnectDelayExponent);
        Assert.Equal(-1, options.MaxReconnectAttempts);
        Assert.Equal(-1, options.StartupMaxReconnectAttempts);
        Assert.Equal(10, options.WarnAfterReconnectAttempts);
        Assert.Equal(Timeout.InfiniteTimeSpan, options.Timeout);
        Assert.False(options.Backup);
        Assert.Equal(1, options.BackupPoolSize);
        Assert.False(options.PriorityBackup);
        Assert.Empty(options.PriorityUris);
        Assert.False(options.TrackMessages);
        Assert.Equal(128 * 1024, options.MaxCacheSize);
        Assert.True(options.TrackTransactionProducers);
        Assert.True(options.UpdateUrisSupported);
        Assert.True(options.RebalanceUpdateUris);
        Assert.True(options.ReconnectSupported);
        Assert.Empty(options.NestedOptions);
        Assert.Equal(new FailoverOptions().ReconnectDelayJitter, options.ReconnectDelayJitter);
    }

    [Fact]
    public void Every_option_is_read_by_its_activemq_name()
    {
        var options = FailoverOptions.Parse(
            "failover:(tcp://a:1,nio://b:2)?randomize=false&initialReconnectDelay=50&maxReconnectDelay=2000" +
            "&useExponentialBackOff=false&reconnectDelayExponent=1.5&maxReconnectAttempts=7&startupMaxReconnectAttempts=3" +
            "&warnAfterReconnectAttempts=5&timeout=3000&backup=true&backupPoolSize=2&priorityBackup=true" +
            "&priorityURIs=tcp://b:2&trackMessages=true&maxCacheSize=4096&trackTransactionProducers=false" +
            "&updateURIsSupported=false&rebalanceUpdateURIs=false&reconnectSupported=false&reconnectDelayJitter=0");
        Assert.False(options.Randomize);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.InitialReconnectDelay);
        Assert.Equal(TimeSpan.FromMilliseconds(2000), options.MaxReconnectDelay);
        Assert.False(options.UseExponentialBackOff);
        Assert.Equal(1.5, options.ReconnectDelayExponent);
        Assert.Equal(7, options.MaxReconnectAttempts);
        Assert.Equal(3, options.StartupMaxReconnectAttempts);
        Assert.Equal(5, options.WarnAfterReconnectAttempts);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Timeout);
        Assert.True(options.Backup);
        Assert.Equal(2, options.BackupPoolSize);
        Assert.True(options.PriorityBackup);
        Assert.Equal(["tcp://b:2"], options.PriorityUris);
        Assert.True(options.TrackMessages);
        Assert.Equal(4096, options.MaxCacheSize);
        Assert.False(options.TrackTransactionProducers);
        Assert.False(options.UpdateUrisSupported);
        Assert.False(options.RebalanceUpdateUris);
        Assert.False(options.ReconnectSupported);
        Assert.Equal(0, options.ReconnectDelayJitter);
    }

    [Theory]
    [InlineData("failover:(tcp://a:1)?timeout=-1")]
    [InlineData("failover:(tcp://a:1)?timeout=0")]
    public void A_timeout_of_zero_or_less_waits_indefinitely(string uri) =>
        Assert.Equal(Timeout.InfiniteTimeSpan, FailoverOptions.Parse(uri).Timeout);

    [Theory]
    [InlineData("failover://(tcp://a:1)?randomize=false")]
    [InlineData("failover:tcp://a:1?randomize=false")]
    public void The_other_spellings_of_a_failover_uri_parse(string uri)
    {
        var options = FailoverOptions.Parse(uri);
        Assert.Equal(["tcp://a:1"], options.Uris);
        Assert.False(options.Randomize);
    }

    [Fact]
    public void An_unknown_option_is_rejected_by_name()
    {
        var error = Assert.Throws<FormatException>(() => FailoverOptions.Parse("failover:(tcp://a:1)?randomise=false"));
        Assert.Contains("'randomise'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("failover:(tcp://a:1)?maxReconnectAttempts=many", "maxReconnectAttempts")]
    [InlineData("failover:(tcp://a:1)?randomize=yes", "randomize")]
    [InlineData("failover:(tcp://a:1)?reconnectDelayExponent=0.5", "reconnectDelayExponent")]
    [InlineData("failover:(tcp://a:1)?reconnectDelayExponent=x", "reconnectDelayExponent")]
    [InlineData("failover:(tcp://a:1)?initialReconnectDelay=-5", "initialReconnectDelay")]
    [InlineData("failover:(tcp://a:1)?updateURIsURL=file:///tmp/uris", "updateURIsURL")]
    [InlineData("failover:(tcp://a:1)?nested.wireFormat.bogus=1", "wireFormat.bogus")]
    [InlineData("failover:(tcp://a:1?bogus=1)", "bogus")]
    [InlineData("failover:(ssl://a:1)", "ssl")]
    [InlineData("tcp://a:1", "failover")]
    public void Invalid_values_are_rejected_naming_the_option(string uri, string named)
    {
        var error = Assert.Throws<FormatException>(() => FailoverOptions.Parse(uri));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_options_apply_to_every_inner_uri_unless_it_sets_them_itself()
    {
        var options = FailoverOptions.Parse(
            "failover:(tcp://a:1,tcp://b:2?wireFormat.maxInactivityDuration=5000)?nested.wireFormat.maxInactivityDuration=1000&nested.connectionTimeout=2500");
        Assert.Equal(2, options.NestedOptions.Count);
        var a = options.Endpoint(options.Uris[0]);
        var b = options.Endpoint(options.Uris[1]);
        Assert.Equal(1000, a.WireFormat.MaxInactivityDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), a.ConnectionTimeout);
        Assert.Equal(5000, b.WireFormat.MaxInactivityDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), b.ConnectionTimeout);
        Assert.Equal("a", a.Host);
        Assert.Equal(2, b.Port);
    }

    [Fact]
    public void The_factory_makes_a_plain_link_for_tcp_and_a_failover_transport_for_failover()
    {
        Assert.IsType<OpenWireTransport>(TransportFactory.Create("tcp://127.0.0.1:61616"));
        Assert.IsType<OpenWireTransport>(TransportFactory.Create("nio://127.0.0.1:61616"));
        var failover = Assert.IsType<FailoverTransport>(TransportFactory.Create("failover:(tcp://127.0.0.1:1,tcp://127.0.0.1:2)?randomize=false"));
        Assert.True(failover.IsFaultTolerant);
        Assert.False(failover.Options.Randomize);
        Assert.Throws<FormatException>(() => TransportFactory.Create("static:(tcp://a:1)"));
        Assert.Throws<FormatException>(() => TransportFactory.Create("failover:(tcp://a:1)?nope=1"));
    }
}
