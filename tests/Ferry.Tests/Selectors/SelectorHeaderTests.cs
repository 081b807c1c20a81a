using Ferry.Broker.Selectors;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;
using static Ferry.Tests.Selectors.SelectorTestMessages;

namespace Ferry.Tests.Selectors;

/// <summary>JMS header fields (and ActiveMQ's JMSX ones) read from the message rather than its properties.</summary>
public sealed class SelectorHeaderTests
{
    private static Message Headers() => new(DataTypes.TextMessage)
    {
        Persistent = true,
        Priority = 7,
        MessageId = new MessageId { TextView = "ID:host-1234-1:1:1:1:42" },
        Timestamp = 1_700_000_000_000,
        CorrelationId = "corr-1",
        Type = "order",
        Expiration = 1_700_000_060_000,
        RedeliveryCounter = 2,
        GroupId = "group-a",
        GroupSequence = 5,
        Destination = Destination.Queue("ORDERS"),
        ReplyTo = Destination.Topic("REPLIES"),
        UserId = "alice",
        BrokerInTime = 10,
        BrokerOutTime = 20,
        MarshalledProperties = PrimitiveMap.Encode(new Dictionary<string, object?>
        {
            ["JMSType"] = "not-the-header",
            ["JMSPriority"] = 0,
        }),
    };

    [Theory]
    [InlineData("JMSDeliveryMode = 'PERSISTENT'", true)]
    [InlineData("JMSDeliveryMode = 'NON_PERSISTENT'", false)]
    [InlineData("JMSPriority = 7", true)]
    [InlineData("JMSPriority > 5", true)]
    [InlineData("JMSPriority BETWEEN 0 AND 4", false)]
    [InlineData("JMSMessageID = 'ID:host-1234-1:1:1:1:42'", true)]
    [InlineData("JMSMessageID LIKE 'ID:host-%:42'", true)]
    [InlineData("JMSTimestamp = 1700000000000", true)]
    [InlineData("JMSTimestamp > 1600000000000", true)]
    [InlineData("JMSCorrelationID = 'corr-1'", true)]
    [InlineData("JMSCorrelationID IS NOT NULL", true)]
    [InlineData("JMSType = 'order'", true)] // the header, not the property of the same name
    [InlineData("JMSType IN ('order', 'invoice')", true)]
    [InlineData("JMSExpiration = 1700000060000", true)]
    [InlineData("JMSRedelivered = TRUE", true)]
    [InlineData("JMSRedelivered", true)]
    [InlineData("JMSXDeliveryCount = 3", true)]
    [InlineData("JMSXGroupID = 'group-a'", true)]
    [InlineData("JMSXGroupSeq = 5", true)]
    [InlineData("JMSDestination = 'queue://ORDERS'", true)]
    [InlineData("JMSReplyTo = 'topic://REPLIES'", true)]
    [InlineData("JMSXUserID = 'alice'", true)]
    [InlineData("JMSActiveMQBrokerInTime = 10 AND JMSActiveMQBrokerOutTime = 20", true)]
    [InlineData("JMSActiveMQBrokerPath = 'null'", true)]
    [InlineData("JMSXGroupFirstForConsumer = FALSE", true)]
    [InlineData("jmspriority = 7", false)] // identifiers are case-sensitive: a property that is not there
    public void Header_fields(string selector, bool expected) => Assert.Equal(expected, Matches(selector, Headers()));

    [Theory]
    [InlineData("JMSDeliveryMode = 'NON_PERSISTENT'", true)]
    [InlineData("JMSPriority = 4", true)]
    [InlineData("JMSRedelivered = FALSE", true)]
    [InlineData("JMSXDeliveryCount = 1", true)]
    [InlineData("JMSMessageID IS NULL", true)]
    [InlineData("JMSCorrelationID IS NULL", true)]
    [InlineData("JMSType IS NULL", true)]
    [InlineData("JMSXGroupID IS NULL", true)]
    [InlineData("JMSDestination IS NULL", true)]
    [InlineData("JMSCorrelationID = 'x'", false)]
    [InlineData("JMSCorrelationID <> 'x'", false)]
    public void Defaults_of_a_bare_message(string selector, bool expected) =>
        Assert.Equal(expected, Matches(selector, new Message(DataTypes.TextMessage)));

    [Fact]
    public void JMSDestination_is_the_original_destination_when_the_message_was_moved()
    {
        var message = new Message(DataTypes.TextMessage)
        {
            Destination = Destination.Queue("DLQ"),
            OriginalDestination = Destination.Topic("PRICES"),
        };
        Assert.True(Matches("JMSDestination = 'topic://PRICES'", message));
    }

    [Fact]
    public void JMSXUserID_falls_back_to_the_property()
    {
        var message = WithProperties(new() { ["JMSXUserID"] = "bob" });
        Assert.True(Matches("JMSXUserID = 'bob'", message));
    }

    [Fact]
    public void A_selector_on_headers_only_never_decodes_the_properties()
    {
        var message = new Message(DataTypes.TextMessage)
        {
            Priority = 9,
            MarshalledProperties = [0, 0, 0, 5, 1], // announces five entries and holds none
        };
        Assert.True(Matches("JMSPriority = 9", message));
        // A selector that needs the properties does not select a message whose properties are corrupt.
        Assert.False(Matches("color IS NULL", message));
        Assert.False(Matches("JMSPriority = 9 AND color IS NULL", message));
    }

    [Fact]
    public void A_caller_context_can_supply_the_properties()
    {
        var selector = MessageSelector.Parse("color = 'red' AND weight > 10 AND JMSPriority = 4");
        var context = new DictionaryContext(new Message(DataTypes.TextMessage), new() { ["color"] = "red", ["weight"] = 12 });
        Assert.True(selector.Matches(context));
        Assert.Equal(["color", "weight"], context.Lookups);
    }

    [Fact]
    public void Dispatch_copies_share_decoded_properties_and_still_match_independently()
    {
        var selector = MessageSelector.Parse("color = 'red'");
        var red = WithProperties(new() { ["color"] = "red" });
        var copy = red.CopyForDispatch();
        var blue = WithProperties(new() { ["color"] = "blue" });
        Assert.True(selector.Matches(red));
        Assert.True(selector.Matches(copy));
        Assert.False(selector.Matches(blue));
        Assert.True(selector.Matches(red));
    }

    [Fact]
    public void Selectors_evaluate_concurrently()
    {
        var selector = MessageSelector.Parse("color = 'red' AND weight > 10");
        var messages = Enumerable.Range(0, 64)
            .Select(i => WithProperties(new() { ["color"] = i % 2 == 0 ? "red" : "blue", ["weight"] = i }))
            .ToArray();
        Parallel.For(0, 20_000, i =>
        {
            var message = messages[i % messages.Length];
            int n = i % messages.Length;
            Assert.Equal(n % 2 == 0 && n > 10, selector.Matches(message));
        });
    }

    private sealed class DictionaryContext(Message message, Dictionary<string, object?> properties) : ISelectorContext
    {
        public List<string> Lookups { get; } = [];

        public Message Message { get; } = message;

        public object? GetProperty(string name)
        {
            Lookups.Add(name);
            return properties.GetValueOrDefault(name);
        }
    }
}
