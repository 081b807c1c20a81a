using Ferry.Broker.Destinations;

namespace Ferry.Tests.Destinations;

/// <summary>ActiveMQ wildcards: '.' separates segments, '*' matches exactly one segment, '>' matches all the rest.</summary>
public sealed class DestinationFilterTests
{
    [Theory]
    [InlineData("ORDERS", "ORDERS", true)]
    [InlineData("ORDERS.EU", "ORDERS.EU", true)]
    [InlineData("ORDERS", "orders", false)] // names are case-sensitive
    [InlineData("ORDERS", "ORDERS.EU", false)]
    [InlineData("ORDERS.EU", "ORDERS", false)]
    [InlineData("ORDERS.EU", "ORDERS.EUX", false)]
    [InlineData("", "", true)]
    public void Names_without_wildcards_match_exactly(string pattern, string name, bool expected)
    {
        Assert.False(DestinationFilter.IsWildcard(pattern));
        Assert.Equal(expected, DestinationFilter.Matches(pattern, name));
    }

    [Theory]
    [InlineData("ORDERS.*", "ORDERS.EU", true)]
    [InlineData("ORDERS.*", "ORDERS.US", true)]
    [InlineData("*.EU", "ORDERS.EU", true)]
    [InlineData("*", "ORDERS", true)]
    [InlineData("*.*", "A.B", true)]
    [InlineData("ORDERS.*", "ORDERS", false)]        // '*' needs a segment
    [InlineData("ORDERS.*", "ORDERS.EU.PARIS", false)] // and only one
    [InlineData("*", "A.B", false)]
    [InlineData("*.EU", "ORDERS.US", false)]
    [InlineData("ORDERS.*", "INVOICES.EU", false)]
    public void Star_matches_exactly_one_segment(string pattern, string name, bool expected)
    {
        Assert.True(DestinationFilter.IsWildcard(pattern));
        Assert.Equal(expected, DestinationFilter.Matches(pattern, name));
    }

    [Theory]
    [InlineData(">", "A", true)]
    [InlineData(">", "A.B.C", true)]
    [InlineData("ORDERS.>", "ORDERS.EU", true)]
    [InlineData("ORDERS.>", "ORDERS.EU.PARIS.3", true)]
    [InlineData("ORDERS.>", "ORDERS", true)] // as in ActiveMQ: "A.>" also matches "A"
    [InlineData("ORDERS.>", "INVOICES.EU", false)]
    [InlineData("ORDERS.>", "ORDERSX.EU", false)]
    [InlineData("ActiveMQ.Advisory.Consumer.>", "ActiveMQ.Advisory.Consumer.Queue.NET.Q", true)]
    [InlineData("ActiveMQ.Advisory.Consumer.>", "ActiveMQ.Advisory.Producer.Queue.NET.Q", false)]
    public void Greater_than_matches_all_remaining_segments(string pattern, string name, bool expected)
    {
        Assert.True(DestinationFilter.IsWildcard(pattern));
        Assert.Equal(expected, DestinationFilter.Matches(pattern, name));
    }

    [Theory]
    [InlineData("ORDERS.*.>", "ORDERS.EU.PARIS", true)]
    [InlineData("ORDERS.*.>", "ORDERS.EU.PARIS.3", true)]
    [InlineData("ORDERS.*.>", "ORDERS.EU", true)]
    [InlineData("*.EU.>", "ORDERS.EU.PARIS", true)]
    [InlineData("*.EU.>", "ORDERS.US.PARIS", false)]
    [InlineData("*.*.PARIS", "ORDERS.EU.PARIS", true)]
    [InlineData("*.*.PARIS", "ORDERS.EU.LYON", false)]
    [InlineData("A.*.C.*", "A.B.C.D", true)]
    [InlineData("A.*.C.*", "A.B.X.D", false)]
    public void Star_and_greater_than_combine(string pattern, string name, bool expected)
    {
        Assert.Equal(expected, DestinationFilter.Matches(pattern, name));
    }

    [Theory]
    [InlineData("A.*.*", "A.B")]
    [InlineData("A.*", "A.B.C")]
    [InlineData("*.*.*", "A.B")]
    [InlineData("*.*", "A.B.C.D")]
    [InlineData("A.B.*", "A.B")]
    [InlineData("*.B", "B")]
    public void Segment_counts_that_differ_do_not_match(string pattern, string name)
    {
        Assert.False(DestinationFilter.Matches(pattern, name));
    }

    [Theory]
    [InlineData("A.>.C", "A.B.X")]
    [InlineData("A.>.C", "A.B.C.D.X")]
    [InlineData("A.>.C", "A.B")]
    public void Greater_than_before_the_last_segment_does_not_swallow_the_segments_after_it(string pattern, string name)
    {
        // ActiveMQ's DestinationFilter.parseFilter treats '>' as a wildcard only as the last segment (a
        // pattern without '*' whose last segment is not '>' is compared literally). Whatever the reading,
        // the ".C" after the '>' cannot be ignored.
        Assert.False(DestinationFilter.Matches(pattern, name));
    }
}
