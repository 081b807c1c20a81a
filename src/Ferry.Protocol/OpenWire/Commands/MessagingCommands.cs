namespace Ferry.Protocol.OpenWire.Commands;

public sealed class ProducerAck : Command
{
    public ProducerId? ProducerId;
    public int Size;

    public override byte DataType => DataTypes.ProducerAck;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Nested(ref ProducerId);
        v.Int(ref Size);
    }
}

public sealed class MessagePull : Command
{
    public ConsumerId? ConsumerId;
    public Destination? Destination;
    public long Timeout;
    public string? CorrelationId;
    public MessageId? MessageId;

    public override byte DataType => DataTypes.MessagePull;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConsumerId);
        v.Cached(ref Destination);
        v.Long(ref Timeout);
        v.String(ref CorrelationId);
        v.Nested(ref MessageId);
    }
}

public sealed class MessageDispatch : Command
{
    public ConsumerId? ConsumerId;
    public Destination? Destination;
    public Message? Message;
    public int RedeliveryCounter;

    public override byte DataType => DataTypes.MessageDispatch;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConsumerId);
        v.Cached(ref Destination);
        v.Nested(ref Message);
        v.Int(ref RedeliveryCounter);
    }
}

public enum AckType : byte
{
    Delivered = 0,
    Poison = 1,
    Standard = 2,
    Redelivered = 3,
    Individual = 4,
    Unmatched = 5,
    Expired = 6,
}

public sealed class MessageAck : Command
{
    public Destination? Destination;
    public TransactionId? TransactionId;
    public ConsumerId? ConsumerId;
    public byte AckTypeValue;
    public MessageId? FirstMessageId;
    public MessageId? LastMessageId;
    public int MessageCount;
    public BrokerError? PoisonCause;

    public override byte DataType => DataTypes.MessageAck;
    public AckType AckType { get => (AckType)AckTypeValue; set => AckTypeValue = (byte)value; }
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref Destination);
        v.Cached(ref TransactionId);
        v.Cached(ref ConsumerId);
        v.Byte(ref AckTypeValue);
        v.Nested(ref FirstMessageId);
        v.Nested(ref LastMessageId);
        v.Int(ref MessageCount);
        if (v.Version >= 7)
        {
            v.Throwable(ref PoisonCause);
        }
    }
}

public sealed class MessageDispatchNotification : Command
{
    public ConsumerId? ConsumerId;
    public Destination? Destination;
    public long DeliverySequenceId;
    public MessageId? MessageId;

    public override byte DataType => DataTypes.MessageDispatchNotification;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConsumerId);
        v.Cached(ref Destination);
        v.Long(ref DeliverySequenceId);
        v.Nested(ref MessageId);
    }
}
