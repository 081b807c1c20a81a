using Ferry.Broker.Selectors;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.Selectors;

/// <summary>Messages and helpers shared by the selector tests.</summary>
internal static class SelectorTestMessages
{
    public static Message WithProperties(Dictionary<string, object?> properties) =>
        new(DataTypes.TextMessage) { MarshalledProperties = PrimitiveMap.Encode(properties) };

    /// <summary>One message carrying a property of every Java type (ActiveMQ's selector test message, extended).</summary>
    public static Message Standard { get; } = WithProperties(new()
    {
        ["name"] = "James",
        ["location"] = "London",
        ["rank"] = 123,
        ["version"] = 2,
        ["byteProp"] = (sbyte)123,
        ["shortProp"] = (short)123,
        ["intProp"] = 123,
        ["longProp"] = 123L,
        ["floatProp"] = 123f,
        ["doubleProp"] = 123.0,
        ["trueProp"] = true,
        ["falseProp"] = false,
        ["quote"] = "'In God We Trust'",
        ["foo"] = "_foo",
        ["punctuation"] = "!#$&()*+,-./:;<=>?@[\\]^`{|}~",
        ["color"] = "red",
        ["Color"] = "blue",
        ["weight"] = 12,
        ["price"] = 9.5,
        ["small"] = 1.5f,
        ["big"] = 5_000_000_000L,
        ["charProp"] = 'x',
        ["bytesProp"] = new byte[] { 1, 2 },
        ["nullProp"] = null,
        ["path"] = "a.b(c)",
        ["percent"] = "100%",
        ["hundred"] = "100x",
        ["bang"] = "x!y",
        ["emoji"] = "a\U0001F600b",
        ["lines"] = "line1\nline2",
        ["empty"] = "",
    });

    public static bool Matches(string selector, Message? message = null) =>
        MessageSelector.Parse(selector).Matches(message ?? Standard);

    /// <summary>The three-valued result, which <see cref="MessageSelector.Matches(Message)"/> folds to true/false.</summary>
    public static string Evaluate(string selector, Message? message = null)
    {
        var expression = SelectorParser.Parse(selector);
        var context = MessageSelectorContext.Rent(message ?? Standard);
        try
        {
            return expression.EvaluateCondition(context) switch
            {
                Tri.True => "T",
                Tri.False => "F",
                _ => "U",
            };
        }
        finally
        {
            MessageSelectorContext.Return(context);
        }
    }
}
