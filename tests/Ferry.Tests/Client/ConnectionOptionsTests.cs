using Ferry.Client;

namespace Ferry.Tests.Client;

public class ConnectionOptionsTests
{
    [Fact]
    public void Defaults_match_the_java_client()
    {
        var o = ConnectionOptions.Parse("tcp://127.0.0.1:61616");
        Assert.Equal("tcp://127.0.0.1:61616", o.TransportUri);
        Assert.Equal(1000, o.Prefetch.QueuePrefetch);
        Assert.Equal(32767, o.Prefetch.TopicPrefetch);
        Assert.Equal(100, o.Prefetch.DurableTopicPrefetch);
        Assert.Equal(6, o.Redelivery.MaximumRedeliveries);
        Assert.False(o.UseAsyncSend);
        Assert.Equal(0, o.ProducerWindowSize);
        Assert.Null(o.ClientId);
    }

    [Fact]
    public void Jms_options_are_parsed_and_removed_from_the_transport_uri()
    {
        var o = ConnectionOptions.Parse("tcp://127.0.0.1:61616?wireFormat.maxInactivityDuration=0&jms.clientID=c1&jms.useAsyncSend=true"
            + "&jms.producerWindowSize=1024&jms.prefetchPolicy.all=5&jms.prefetchPolicy.topicPrefetch=7&jms.redeliveryPolicy.maximumRedeliveries=2"
            + "&jms.userName=u&jms.password=p&jms.alwaysSyncSend=true&jms.sendTimeout=500&jms.closeTimeout=100&jms.dispatchAsync=false&jms.auditDepth=10"
            + "&jms.watchTopicAdvisories=false");
        Assert.Equal("tcp://127.0.0.1:61616?wireFormat.maxInactivityDuration=0", o.TransportUri);
        Assert.Equal("c1", o.ClientId);
        Assert.True(o.UseAsyncSend);
        Assert.True(o.AlwaysSyncSend);
        Assert.Equal(1024, o.ProducerWindowSize);
        Assert.Equal(5, o.Prefetch.QueuePrefetch);
        Assert.Equal(7, o.Prefetch.TopicPrefetch);
        Assert.Equal(5, o.Prefetch.DurableTopicPrefetch);
        Assert.Equal(2, o.Redelivery.MaximumRedeliveries);
        Assert.Equal("u", o.UserName);
        Assert.Equal("p", o.Password);
        Assert.Equal(TimeSpan.FromMilliseconds(500), o.SendTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100), o.CloseTimeout);
        Assert.False(o.DispatchAsync);
        Assert.Equal(10, o.AuditDepth);
    }

    [Fact]
    public void Jms_options_of_a_failover_uri_come_from_the_outer_query()
    {
        var o = ConnectionOptions.Parse("failover:(tcp://a:1?wireFormat.maxInactivityDuration=0,tcp://b:2)?randomize=false&jms.clientID=x");
        Assert.Equal("failover:(tcp://a:1?wireFormat.maxInactivityDuration=0,tcp://b:2)?randomize=false", o.TransportUri);
        Assert.Equal("x", o.ClientId);
    }

    [Theory]
    [InlineData("tcp://h:1?jms.noSuchOption=1")]
    [InlineData("tcp://h:1?jms.prefetchPolicy.queuePrefetch=-1")]
    [InlineData("tcp://h:1?jms.useAsyncSend=yes")]
    [InlineData("tcp://h:1?jms.watchTopicAdvisories=true")]
    [InlineData("nohost")]
    public void Bad_options_are_errors(string uri) => Assert.Throws<FormatException>(() => ConnectionOptions.Parse(uri));

    [Fact]
    public void Unknown_transport_options_are_refused_by_the_transport()
    {
        var o = ConnectionOptions.Parse("tcp://127.0.0.1:1?bogus=1");
        Assert.Throws<FormatException>(() => Ferry.Client.Internal.ClientTransport.Create(o.TransportUri, TimeProvider.System));
    }

    [Theory]
    [InlineData("tcp://h:1", "tcp://h:1?wireFormat.tightEncodingEnabled=false")]
    [InlineData("tcp://h:1?wireFormat.maxInactivityDuration=0", "tcp://h:1?wireFormat.maxInactivityDuration=0&wireFormat.tightEncodingEnabled=false")]
    [InlineData("tcp://h:1?wireFormat.tightEncodingEnabled=true", "tcp://h:1?wireFormat.tightEncodingEnabled=true")]
    [InlineData("failover:(tcp://a:1,tcp://b:2?wireFormat.tightEncodingEnabled=true)?randomize=false",
        "failover:(tcp://a:1?wireFormat.tightEncodingEnabled=false,tcp://b:2?wireFormat.tightEncodingEnabled=true)?randomize=false")]
    public void The_client_asks_for_loose_encoding_unless_told(string uri, string expected) =>
        Assert.Equal(expected, Ferry.Client.Internal.ClientTransport.PreferLoose(uri));
}
