namespace Ferry.Client;

/// <summary>
/// A message with no body (ActiveMQMessage), and the base of the body types: headers and properties.
/// A producer sets the headers the send fills in (<see cref="MessageId"/>, <see cref="Destination"/>,
/// <see cref="Timestamp"/>, <see cref="Expiration"/>, <see cref="DeliveryMode"/>, <see cref="Priority"/>)
/// on the object it sent, as JMS does.
/// </summary>
public class Message
{
    private string? _messageId;
    // The id as it came off (or went onto) the wire; its text is built only if the application asks.
    private Ferry.Protocol.OpenWire.Commands.MessageId? _wireMessageId;

    /// <summary>The message id (JMSMessageID), <c>ID:&lt;producer id&gt;:&lt;sequence&gt;</c>; set by the send.</summary>
    public string? MessageId
    {
        get => _messageId ??= _wireMessageId?.ToString();
        internal set
        {
            _messageId = value;
            _wireMessageId = null;
        }
    }

    internal void SetMessageId(Ferry.Protocol.OpenWire.Commands.MessageId? id)
    {
        _wireMessageId = id;
        _messageId = null;
    }

    /// <summary>The destination it was sent to (JMSDestination); set by the send.</summary>
    public Destination? Destination { get; internal set; }

    /// <summary>The correlation id (JMSCorrelationID), typically the request's message id on a reply.</summary>
    public string? CorrelationId { get; set; }

    /// <summary>Where a reply should go (JMSReplyTo).</summary>
    public Destination? ReplyTo { get; set; }

    /// <summary>An application message type (JMSType).</summary>
    public string? Type { get; set; }

    /// <summary>Priority 0 (lowest) to 9 (JMSPriority); set by the send, default 4.</summary>
    public int Priority { get; internal set; } = 4;

    /// <summary>Whether the broker keeps it across a restart (JMSDeliveryMode); set by the send.</summary>
    public DeliveryMode DeliveryMode { get; internal set; } = DeliveryMode.Persistent;

    /// <summary>When it was sent (JMSTimestamp); set by the send.</summary>
    public DateTimeOffset? Timestamp { get; internal set; }

    /// <summary>When it expires (JMSExpiration = timestamp + time to live); null = never. Set by the send.</summary>
    public DateTimeOffset? Expiration { get; internal set; }

    /// <summary>True if it was delivered before (JMSRedelivered).</summary>
    public bool Redelivered => RedeliveryCounter > 0;

    /// <summary>How many times it was delivered, this one included (JMSXDeliveryCount).</summary>
    public int DeliveryCount => RedeliveryCounter + 1;

    /// <summary>The message group (JMSXGroupID): messages of one group go to one consumer, in order.</summary>
    public string? GroupId { get; set; }

    /// <summary>The position within its group (JMSXGroupSeq).</summary>
    public int GroupSequence { get; set; }

    /// <summary>Application properties.</summary>
    public MessageProperties Properties { get; } = new();

    internal int RedeliveryCounter { get; set; }

    /// <summary>Set on a received message: how the session acknowledges it.</summary>
    internal Delivery? Delivery { get; set; }

    /// <summary>
    /// Acknowledges a received message: in <see cref="AcknowledgeMode.Client"/> mode every message its
    /// session delivered so far, in <see cref="AcknowledgeMode.Individual"/> mode this one; otherwise nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The message was not received from a consumer.</exception>
    public Task AcknowledgeAsync(CancellationToken cancellationToken = default) =>
        (Delivery ?? throw new InvalidOperationException("Only a received message can be acknowledged")).Consumer.AcknowledgeAsync(Delivery, cancellationToken);

    internal virtual byte WireType => Protocol.OpenWire.DataTypes.Message;

    internal virtual byte[]? EncodeBody() => null;

    internal virtual void DecodeBody(byte[]? content) { }
}

/// <summary>A message whose body is a string (ActiveMQTextMessage).</summary>
public sealed class TextMessage : Message
{
    /// <summary>An empty text message.</summary>
    public TextMessage() { }

    /// <summary>A text message with <paramref name="text"/> as its body.</summary>
    public TextMessage(string? text) => Text = text;

    /// <summary>The body; null is sent as an empty content.</summary>
    public string? Text { get; set; }

    internal override byte WireType => Protocol.OpenWire.DataTypes.TextMessage;

    internal override byte[]? EncodeBody() => Internal.BodyCodec.EncodeText(Text);

    internal override void DecodeBody(byte[]? content) => Text = Internal.BodyCodec.DecodeText(content);
}

/// <summary>A message whose body is raw bytes (ActiveMQBytesMessage).</summary>
public sealed class BytesMessage : Message
{
    /// <summary>An empty bytes message.</summary>
    public BytesMessage() { }

    /// <summary>A bytes message with <paramref name="body"/> as its body (not copied).</summary>
    public BytesMessage(byte[] body) => Body = body;

    /// <summary>The body.</summary>
    public byte[] Body { get; set; } = [];

    internal override byte WireType => Protocol.OpenWire.DataTypes.BytesMessage;

    internal override byte[]? EncodeBody() => Body.Length == 0 ? null : Body;

    internal override void DecodeBody(byte[]? content) => Body = content ?? [];
}

/// <summary>
/// A message whose body is a map of names to values (ActiveMQMapMessage): the JMS property types plus
/// <see cref="char"/> and <see cref="T:byte[]"/>.
/// </summary>
public sealed class MapMessage : Message
{
    /// <summary>The body.</summary>
    public Dictionary<string, object?> Body { get; } = new(StringComparer.Ordinal);

    internal override byte WireType => Protocol.OpenWire.DataTypes.MapMessage;

    internal override byte[]? EncodeBody() => Body.Count == 0 ? null : Protocol.OpenWire.Marshalling.PrimitiveMap.Encode(Body);

    internal override void DecodeBody(byte[]? content)
    {
        Body.Clear();
        if (content is not null && Protocol.OpenWire.Marshalling.PrimitiveMap.Decode(content) is { } map)
        {
            foreach (var (key, value) in map)
            {
                Body[key] = value;
            }
        }
    }
}

/// <summary>
/// A message whose body is a sequence of typed values (ActiveMQStreamMessage): the JMS property types
/// plus <see cref="char"/>, <see cref="T:byte[]"/> and null.
/// </summary>
public sealed class StreamMessage : Message
{
    /// <summary>The body, in order.</summary>
    public List<object?> Body { get; } = [];

    internal override byte WireType => Protocol.OpenWire.DataTypes.StreamMessage;

    internal override byte[]? EncodeBody() => Body.Count == 0 ? null : Internal.BodyCodec.EncodeStream(Body);

    internal override void DecodeBody(byte[]? content)
    {
        Body.Clear();
        Body.AddRange(Internal.BodyCodec.DecodeStream(content));
    }
}
