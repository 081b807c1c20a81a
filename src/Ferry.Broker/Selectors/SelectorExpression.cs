using System.Text;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Selectors;

/// <summary>
/// What an expression may produce, as known at parse time; used to reject type errors before any
/// message is seen. Properties may hold anything, so they carry every flag.
/// </summary>
[Flags]
internal enum SelectorType : byte
{
    None = 0,
    /// <summary>Only the NULL literal is exactly this.</summary>
    Null = 1,
    Boolean = 2,
    Numeric = 4,
    String = 8,
    Any = Null | Boolean | Numeric | String,
}

/// <summary>
/// A node of a parsed selector. Nodes are immutable and shared by all threads evaluating the selector;
/// evaluation walks the tree with no allocation (values are <see cref="SelectorValue"/> structs).
/// </summary>
internal abstract class SelectorExpression
{
    protected SelectorExpression(SelectorType type, int depth)
    {
        Type = type;
        Depth = depth;
    }

    public SelectorType Type { get; }

    /// <summary>Height of the tree under this node, bounded by the parser to keep evaluation off the stack limit.</summary>
    public int Depth { get; }

    /// <summary>Where the expression starts and ends in the selector text, for error messages.</summary>
    public int Start { get; set; }
    public int End { get; set; }

    public abstract SelectorValue Evaluate(ISelectorContext context);

    /// <summary>
    /// The value as a condition. A non-boolean value (a property holding a number, say) is false, as in
    /// ActiveMQ; NULL is unknown.
    /// </summary>
    public virtual Tri EvaluateCondition(ISelectorContext context)
    {
        var value = Evaluate(context);
        return value.Kind switch
        {
            ValueKind.Null => Tri.Unknown,
            ValueKind.Boolean => TriLogic.From(value.BooleanValue),
            _ => Tri.False,
        };
    }

    /// <summary>A fully parenthesised rendering that shows how the selector was parsed.</summary>
    public abstract override string ToString();

    protected static int DepthOf(SelectorExpression a) => a.Depth + 1;
    protected static int DepthOf(SelectorExpression a, SelectorExpression b) => Math.Max(a.Depth, b.Depth) + 1;
}

/// <summary>A node whose value is always TRUE, FALSE or unknown.</summary>
internal abstract class ConditionExpression : SelectorExpression
{
    protected ConditionExpression(int depth) : base(SelectorType.Boolean, depth) { }

    public sealed override SelectorValue Evaluate(ISelectorContext context) => SelectorValue.FromTri(EvaluateCondition(context));

    public abstract override Tri EvaluateCondition(ISelectorContext context);
}

internal sealed class ConstantExpression : SelectorExpression
{
    private readonly SelectorValue _value;

    public ConstantExpression(SelectorValue value) : base(TypeOf(value), 1) => _value = value;

    public SelectorValue Value => _value;

    public override SelectorValue Evaluate(ISelectorContext context) => _value;

    public override string ToString() => _value.ToString();

    private static SelectorType TypeOf(SelectorValue value) => value.Kind switch
    {
        ValueKind.Null => SelectorType.Null,
        ValueKind.Boolean => SelectorType.Boolean,
        ValueKind.String => SelectorType.String,
        _ => SelectorType.Numeric,
    };
}

/// <summary>An identifier: a header field (see <see cref="HeaderExpression"/>) or an application property.</summary>
internal abstract class IdentifierExpression : SelectorExpression
{
    protected IdentifierExpression(string name) : base(SelectorType.Any, 1) => Name = name;

    public string Name { get; }

    public override string ToString() => Name;
}

internal sealed class PropertyExpression : IdentifierExpression
{
    public PropertyExpression(string name) : base(name) { }

    public override SelectorValue Evaluate(ISelectorContext context) => SelectorValue.FromObject(context.GetProperty(Name));
}

/// <summary>The JMS header fields (and ActiveMQ's extra ones) that selectors read from the message itself.</summary>
internal enum HeaderField : byte
{
    DeliveryMode,
    Priority,
    MessageId,
    Timestamp,
    CorrelationId,
    Type,
    Expiration,
    Redelivered,
    DeliveryCount,
    GroupId,
    GroupSequence,
    Destination,
    ReplyTo,
    UserId,
    ProducerTransactionId,
    BrokerInTime,
    BrokerOutTime,
    BrokerPath,
    GroupFirstForConsumer,
}

internal sealed class HeaderExpression : IdentifierExpression
{
    /// <summary>Names as ActiveMQ's PropertyExpression knows them (case-sensitive).</summary>
    private static readonly Dictionary<string, HeaderField> Fields = new(StringComparer.Ordinal)
    {
        ["JMSDeliveryMode"] = HeaderField.DeliveryMode,
        ["JMSPriority"] = HeaderField.Priority,
        ["JMSMessageID"] = HeaderField.MessageId,
        ["JMSTimestamp"] = HeaderField.Timestamp,
        ["JMSCorrelationID"] = HeaderField.CorrelationId,
        ["JMSType"] = HeaderField.Type,
        ["JMSExpiration"] = HeaderField.Expiration,
        ["JMSRedelivered"] = HeaderField.Redelivered,
        ["JMSXDeliveryCount"] = HeaderField.DeliveryCount,
        ["JMSXGroupID"] = HeaderField.GroupId,
        ["JMSXGroupSeq"] = HeaderField.GroupSequence,
        ["JMSDestination"] = HeaderField.Destination,
        ["JMSReplyTo"] = HeaderField.ReplyTo,
        ["JMSXUserID"] = HeaderField.UserId,
        ["JMSXProducerTXID"] = HeaderField.ProducerTransactionId,
        ["JMSActiveMQBrokerInTime"] = HeaderField.BrokerInTime,
        ["JMSActiveMQBrokerOutTime"] = HeaderField.BrokerOutTime,
        ["JMSActiveMQBrokerPath"] = HeaderField.BrokerPath,
        ["JMSXGroupFirstForConsumer"] = HeaderField.GroupFirstForConsumer,
    };

    private static readonly SelectorValue Persistent = SelectorValue.FromString("PERSISTENT");
    private static readonly SelectorValue NonPersistent = SelectorValue.FromString("NON_PERSISTENT");

    private readonly HeaderField _field;

    private HeaderExpression(string name, HeaderField field) : base(name) => _field = field;

    public static IdentifierExpression Create(string name) =>
        Fields.TryGetValue(name, out var field) ? new HeaderExpression(name, field) : new PropertyExpression(name);

    public override SelectorValue Evaluate(ISelectorContext context)
    {
        var m = context.Message;
        return _field switch
        {
            HeaderField.DeliveryMode => m.Persistent ? Persistent : NonPersistent,
            HeaderField.Priority => SelectorValue.FromExact(m.Priority),
            HeaderField.MessageId => SelectorValue.FromString(m.MessageId?.ToString()),
            HeaderField.Timestamp => SelectorValue.FromExact(m.Timestamp),
            HeaderField.CorrelationId => SelectorValue.FromString(m.CorrelationId),
            HeaderField.Type => SelectorValue.FromString(m.Type),
            HeaderField.Expiration => SelectorValue.FromExact(m.Expiration),
            HeaderField.Redelivered => SelectorValue.FromBoolean(m.RedeliveryCounter > 0),
            HeaderField.DeliveryCount => SelectorValue.FromExact(m.RedeliveryCounter + 1L),
            HeaderField.GroupId => SelectorValue.FromString(m.GroupId),
            HeaderField.GroupSequence => SelectorValue.FromExact(m.GroupSequence),
            HeaderField.Destination => SelectorValue.FromString((m.OriginalDestination ?? m.Destination)?.ToString()),
            HeaderField.ReplyTo => SelectorValue.FromString(m.ReplyTo?.ToString()),
            HeaderField.UserId => m.UserId is { } user ? SelectorValue.FromString(user) : SelectorValue.FromObject(context.GetProperty(Name)),
            HeaderField.ProducerTransactionId => SelectorValue.FromString((m.OriginalTransactionId ?? m.TransactionId)?.ToString()),
            HeaderField.BrokerInTime => SelectorValue.FromExact(m.BrokerInTime),
            HeaderField.BrokerOutTime => SelectorValue.FromExact(m.BrokerOutTime),
            HeaderField.BrokerPath => SelectorValue.FromString(FormatBrokerPath(m.BrokerPath)),
            HeaderField.GroupFirstForConsumer => SelectorValue.FromBoolean(m.JmsxGroupFirstForConsumer),
            _ => SelectorValue.Null,
        };
    }

    /// <summary>Java's Arrays.toString, which ActiveMQ uses for JMSActiveMQBrokerPath.</summary>
    private static string FormatBrokerPath(BrokerId?[]? path)
    {
        if (path is null)
        {
            return "null";
        }
        var sb = new StringBuilder("[");
        for (int i = 0; i < path.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(path[i]?.ToString() ?? "null");
        }
        return sb.Append(']').ToString();
    }
}
