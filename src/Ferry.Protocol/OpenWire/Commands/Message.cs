namespace Ferry.Protocol.OpenWire.Commands;

/// <summary>
/// A JMS message (ActiveMQMessage and its body subtypes). The body stays in its marshalled form
/// (<see cref="Content"/>) so the broker passes it on without re-encoding; subtypes differ only in
/// the type byte and in how the content is read.
/// </summary>
public class Message : Command
{
    public ProducerId? ProducerId;
    public Destination? Destination;
    public TransactionId? TransactionId;
    public Destination? OriginalDestination;
    public MessageId? MessageId;
    public TransactionId? OriginalTransactionId;
    public string? GroupId;
    public int GroupSequence;
    public string? CorrelationId;
    public bool Persistent;
    public long Expiration;
    public byte Priority = 4;
    public Destination? ReplyTo;
    public long Timestamp;
    public string? Type;
    public byte[]? Content;
    public byte[]? MarshalledProperties;
    public DataStructure? DataStructure;
    public ConsumerId? TargetConsumerId;
    public bool Compressed;
    public int RedeliveryCounter;
    public BrokerId?[]? BrokerPath;
    public long Arrival;
    public string? UserId;
    public bool ReceivedByDfBridge;
    public bool Droppable;
    public BrokerId?[]? Cluster;
    public long BrokerInTime;
    public long BrokerOutTime;
    public bool JmsxGroupFirstForConsumer;

    /// <summary>
    /// Set for a message that goes to several consumers: its header is encoded once per wire format
    /// and shared by the copies <see cref="CopyForDispatch"/> makes. Not part of the message; once set,
    /// the header fields (producer id through JMS type) must not change — <see cref="CopyForChange"/> first.
    /// </summary>
    public SharedHeaderEncoding? SharedHeader { get; set; }

    private readonly byte _dataType;

    public Message() : this(DataTypes.Message) { }

    public Message(byte dataType)
    {
        if (dataType is < DataTypes.Message or > DataTypes.BlobMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(dataType), dataType, "not a message type");
        }
        _dataType = dataType;
    }

    public override byte DataType => _dataType;
    public override bool IsMarshallAware => true;

    public bool IsExpired(long nowMillis) => Expiration > 0 && Expiration <= nowMillis;

    /// <summary>The size the Java client counts for its producer window: 1024 + properties + content.</summary>
    public int WindowSize => 1024 + (MarshalledProperties?.Length ?? 0) + (Content?.Length ?? 0);

    protected override void DescribeBody(FieldVisitor v)
    {
        v.SharedHeader(this, SharedHeader);
        v.Bytes(ref Content);
        v.Bytes(ref MarshalledProperties);
        v.Nested(ref DataStructure);
        v.Cached(ref TargetConsumerId);
        v.Bool(ref Compressed);
        // From here on, fields a dispatch may set: never part of the shared header.
        v.Int(ref RedeliveryCounter);
        v.Array(ref BrokerPath);
        v.Long(ref Arrival);
        v.String(ref UserId);
        v.Bool(ref ReceivedByDfBridge);
        v.Bool(ref Droppable);
        v.Array(ref Cluster);
        v.Long(ref BrokerInTime);
        v.Long(ref BrokerOutTime);
        if (v.Version >= 10)
        {
            v.Bool(ref JmsxGroupFirstForConsumer);
        }
        DescribeExtra(v);
    }

    /// <summary>The fields from the producer id to the JMS type, which no dispatch changes.</summary>
    internal void DescribeHeader(FieldVisitor v)
    {
        v.Cached(ref ProducerId);
        v.Cached(ref Destination);
        v.Cached(ref TransactionId);
        v.Cached(ref OriginalDestination);
        v.Nested(ref MessageId);
        v.Cached(ref OriginalTransactionId);
        v.String(ref GroupId);
        v.Int(ref GroupSequence);
        v.String(ref CorrelationId);
        v.Bool(ref Persistent);
        v.Long(ref Expiration);
        v.Byte(ref Priority);
        v.Nested(ref ReplyTo);
        v.Long(ref Timestamp);
        v.String(ref Type);
    }

    protected virtual void DescribeExtra(FieldVisitor v) { }

    /// <summary>
    /// A copy for one dispatch: it may set the redelivery counter, broker out-time and group-first flag;
    /// the body bytes and the shared header encoding stay shared.
    /// </summary>
    public Message CopyForDispatch() => (Message)MemberwiseClone();

    /// <summary>A copy whose header fields may be changed (destination, message id, …): it shares the body only.</summary>
    public Message CopyForChange()
    {
        var copy = (Message)MemberwiseClone();
        copy.SharedHeader = null;
        return copy;
    }
}

public sealed class BlobMessage : Message
{
    public string? RemoteBlobUrl;
    public string? MimeType;
    public bool DeletedByBroker;

    public BlobMessage() : base(DataTypes.BlobMessage) { }

    protected override void DescribeExtra(FieldVisitor v)
    {
        v.String(ref RemoteBlobUrl);
        v.String(ref MimeType);
        v.Bool(ref DeletedByBroker);
    }
}
