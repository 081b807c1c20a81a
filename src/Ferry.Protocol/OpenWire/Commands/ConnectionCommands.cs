namespace Ferry.Protocol.OpenWire.Commands;

public sealed class BrokerInfo : Command
{
    public BrokerId? BrokerId;
    public string? BrokerUrl;
    public BrokerInfo?[]? PeerBrokerInfos;
    public string? BrokerName;
    public bool SlaveBroker;
    public bool MasterBroker;
    public bool FaultTolerantConfiguration;
    public bool DuplexConnection;
    public bool NetworkConnection;
    public long ConnectionId;
    public string? BrokerUploadUrl;
    public string? NetworkProperties;

    public override byte DataType => DataTypes.BrokerInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref BrokerId);
        v.String(ref BrokerUrl);
        v.Array(ref PeerBrokerInfos);
        v.String(ref BrokerName);
        v.Bool(ref SlaveBroker);
        v.Bool(ref MasterBroker);
        v.Bool(ref FaultTolerantConfiguration);
        v.Bool(ref DuplexConnection);
        v.Bool(ref NetworkConnection);
        v.Long(ref ConnectionId);
        v.String(ref BrokerUploadUrl);
        v.String(ref NetworkProperties);
    }
}

public sealed class ConnectionInfo : Command
{
    public ConnectionId? ConnectionId;
    public string? ClientId;
    public string? Password;
    public string? UserName;
    public BrokerId?[]? BrokerPath;
    public bool BrokerMasterConnector;
    public bool Manageable;
    public bool ClientMaster;
    public bool FaultTolerant;
    public bool FailoverReconnect;
    public string? ClientIp;

    public override byte DataType => DataTypes.ConnectionInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConnectionId);
        v.String(ref ClientId);
        v.String(ref Password);
        v.String(ref UserName);
        v.Array(ref BrokerPath);
        v.Bool(ref BrokerMasterConnector);
        v.Bool(ref Manageable);
        v.Bool(ref ClientMaster);
        v.Bool(ref FaultTolerant);
        v.Bool(ref FailoverReconnect);
        if (v.Version >= 8)
        {
            v.String(ref ClientIp);
        }
    }
}

public sealed class SessionInfo : Command
{
    public SessionId? SessionId;

    public override byte DataType => DataTypes.SessionInfo;
    protected override void DescribeBody(FieldVisitor v) => v.Cached(ref SessionId);
}

public sealed class ConsumerInfo : Command
{
    public ConsumerId? ConsumerId;
    public bool Browser;
    public Destination? Destination;
    public int PrefetchSize;
    public int MaximumPendingMessageLimit;
    public bool DispatchAsync;
    public string? Selector;
    public string? ClientId;
    public string? SubscriptionName;
    public bool NoLocal;
    public bool Exclusive;
    public bool Retroactive;
    public sbyte Priority;
    public BrokerId?[]? BrokerPath;
    public DataStructure? AdditionalPredicate;
    public bool NetworkSubscription;
    public bool OptimizedAcknowledge;
    public bool NoRangeAcks;
    public ConsumerId?[]? NetworkConsumerPath;

    public override byte DataType => DataTypes.ConsumerInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConsumerId);
        v.Bool(ref Browser);
        v.Cached(ref Destination);
        v.Int(ref PrefetchSize);
        v.Int(ref MaximumPendingMessageLimit);
        v.Bool(ref DispatchAsync);
        v.String(ref Selector);
        if (v.Version >= 10)
        {
            v.String(ref ClientId);
        }
        v.String(ref SubscriptionName);
        v.Bool(ref NoLocal);
        v.Bool(ref Exclusive);
        v.Bool(ref Retroactive);
        v.SByte(ref Priority);
        v.Array(ref BrokerPath);
        v.Nested(ref AdditionalPredicate);
        v.Bool(ref NetworkSubscription);
        v.Bool(ref OptimizedAcknowledge);
        v.Bool(ref NoRangeAcks);
        v.Array(ref NetworkConsumerPath);
    }
}

public sealed class ProducerInfo : Command
{
    public ProducerId? ProducerId;
    public Destination? Destination;
    public BrokerId?[]? BrokerPath;
    public bool DispatchAsync;
    public int WindowSize;

    public override byte DataType => DataTypes.ProducerInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ProducerId);
        v.Cached(ref Destination);
        v.Array(ref BrokerPath);
        v.Bool(ref DispatchAsync);
        v.Int(ref WindowSize);
    }
}

public enum TransactionType : byte
{
    Begin = 0,
    Prepare = 1,
    CommitOnePhase = 2,
    CommitTwoPhase = 3,
    Rollback = 4,
    Recover = 5,
    Forget = 6,
    End = 7,
}

public sealed class TransactionInfo : Command
{
    public ConnectionId? ConnectionId;
    public TransactionId? TransactionId;
    public byte Type;

    public override byte DataType => DataTypes.TransactionInfo;
    public TransactionType Kind => (TransactionType)Type;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConnectionId);
        v.Cached(ref TransactionId);
        v.Byte(ref Type);
    }
}

public sealed class DestinationInfo : Command
{
    public const byte Add = 0;
    public const byte Remove = 1;

    public ConnectionId? ConnectionId;
    public Destination? Destination;
    public byte OperationType;
    public long Timeout;
    public BrokerId?[]? BrokerPath;

    public override byte DataType => DataTypes.DestinationInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConnectionId);
        v.Cached(ref Destination);
        v.Byte(ref OperationType);
        v.Long(ref Timeout);
        v.Array(ref BrokerPath);
    }
}

public sealed class RemoveSubscriptionInfo : Command
{
    public ConnectionId? ConnectionId;
    public string? SubscriptionName;
    public string? ClientId;

    public override byte DataType => DataTypes.RemoveSubscriptionInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ConnectionId);
        v.String(ref SubscriptionName);
        v.String(ref ClientId);
    }
}

public sealed class KeepAliveInfo : Command
{
    public override byte DataType => DataTypes.KeepAliveInfo;
    protected override void DescribeBody(FieldVisitor v) { }
}

public sealed class ShutdownInfo : Command
{
    public override byte DataType => DataTypes.ShutdownInfo;
    protected override void DescribeBody(FieldVisitor v) { }
}

public sealed class FlushCommand : Command
{
    public override byte DataType => DataTypes.FlushCommand;
    protected override void DescribeBody(FieldVisitor v) { }
}

public sealed class RemoveInfo : Command
{
    public DataStructure? ObjectId;
    public long LastDeliveredSequenceId;

    public override byte DataType => DataTypes.RemoveInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Cached(ref ObjectId);
        v.Long(ref LastDeliveredSequenceId);
    }
}

public sealed class ControlCommand : Command
{
    public string? Command;

    public override byte DataType => DataTypes.ControlCommand;
    protected override void DescribeBody(FieldVisitor v) => v.String(ref Command);
}

public sealed class ConnectionError : Command
{
    public BrokerError? Exception;
    public ConnectionId? ConnectionId;

    public override byte DataType => DataTypes.ConnectionError;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Throwable(ref Exception);
        v.Nested(ref ConnectionId);
    }
}

public sealed class ConsumerControl : Command
{
    public Destination? Destination;
    public bool Close;
    public ConsumerId? ConsumerId;
    public int Prefetch;
    public bool Flush;
    public bool Start;
    public bool Stop;

    public override byte DataType => DataTypes.ConsumerControl;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Nested(ref Destination);
        v.Bool(ref Close);
        v.Nested(ref ConsumerId);
        v.Int(ref Prefetch);
        v.Bool(ref Flush);
        v.Bool(ref Start);
        v.Bool(ref Stop);
    }
}

public sealed class ConnectionControl : Command
{
    public bool Close;
    public bool Exit;
    public bool FaultTolerant;
    public bool Resume;
    public bool Suspend;
    public string? ConnectedBrokers;
    public string? ReconnectTo;
    public bool RebalanceConnection;
    public byte[]? Token;

    public override byte DataType => DataTypes.ConnectionControl;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Bool(ref Close);
        v.Bool(ref Exit);
        v.Bool(ref FaultTolerant);
        v.Bool(ref Resume);
        v.Bool(ref Suspend);
        v.String(ref ConnectedBrokers);
        v.String(ref ReconnectTo);
        v.Bool(ref RebalanceConnection);
        if (v.Version >= 8)
        {
            v.Bytes(ref Token);
        }
    }
}
