namespace Ferry.Protocol.OpenWire.Commands;

public sealed class NetworkBridgeFilter : DataStructure
{
    public BrokerId? NetworkBrokerId;
    public int MessageTtl;
    public int ConsumerTtl;

    public override byte DataType => DataTypes.NetworkBridgeFilter;
    public override void Describe(FieldVisitor v)
    {
        if (v.Version >= 10)
        {
            v.Cached(ref NetworkBrokerId);
            v.Int(ref MessageTtl);
            v.Int(ref ConsumerTtl);
        }
        else
        {
            // v9 had one networkTTL before the broker id.
            v.Int(ref MessageTtl);
            v.Cached(ref NetworkBrokerId);
            if (v.IsReader)
            {
                ConsumerTtl = MessageTtl;
            }
        }
    }
}

public sealed class BrokerSubscriptionInfo : Command
{
    public BrokerId? BrokerId;
    public string? BrokerName;
    public ConsumerInfo?[]? SubscriptionInfos;

    public override byte DataType => DataTypes.BrokerSubscriptionInfo;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Nested(ref BrokerId);
        v.String(ref BrokerName);
        v.Array(ref SubscriptionInfos);
    }
}

public sealed class DiscoveryEvent : DataStructure
{
    public string? ServiceName;
    public string? BrokerName;

    public override byte DataType => DataTypes.DiscoveryEvent;
    public override void Describe(FieldVisitor v)
    {
        v.String(ref ServiceName);
        v.String(ref BrokerName);
    }
}

public sealed class SubscriptionInfo : DataStructure
{
    public string? ClientId;
    public Destination? Destination;
    public string? Selector;
    public string? SubscriptionName;
    public Destination? SubscribedDestination;
    public bool NoLocal;

    public override byte DataType => DataTypes.SubscriptionInfo;
    public override void Describe(FieldVisitor v)
    {
        v.String(ref ClientId);
        v.Cached(ref Destination);
        v.String(ref Selector);
        v.String(ref SubscriptionName);
        v.Nested(ref SubscribedDestination);
        if (v.Version >= 11)
        {
            v.Bool(ref NoLocal);
        }
    }
}

public sealed class PartialCommand : DataStructure
{
    public int PartId;
    public byte[]? Data;
    private readonly bool _last;

    public PartialCommand(bool last) => _last = last;
    public PartialCommand() { }

    public override byte DataType => _last ? DataTypes.LastPartialCommand : DataTypes.PartialCommand;
    public override void Describe(FieldVisitor v)
    {
        v.Int(ref PartId);
        v.Bytes(ref Data);
    }
}

public sealed class ReplayCommand : Command
{
    public int FirstNakNumber;
    public int LastNakNumber;

    public override byte DataType => DataTypes.ReplayCommand;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Int(ref FirstNakNumber);
        v.Int(ref LastNakNumber);
    }
}
