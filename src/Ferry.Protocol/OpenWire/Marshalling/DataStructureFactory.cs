using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>Creates an empty instance for a type byte read off the wire.</summary>
public static class DataStructureFactory
{
    public static DataStructure Create(byte dataType, int version) => dataType switch
    {
        DataTypes.WireFormatInfo => new WireFormatInfo(),
        DataTypes.BrokerInfo => new BrokerInfo(),
        DataTypes.ConnectionInfo => new ConnectionInfo(),
        DataTypes.SessionInfo => new SessionInfo(),
        DataTypes.ConsumerInfo => new ConsumerInfo(),
        DataTypes.ProducerInfo => new ProducerInfo(),
        DataTypes.TransactionInfo => new TransactionInfo(),
        DataTypes.DestinationInfo => new DestinationInfo(),
        DataTypes.RemoveSubscriptionInfo => new RemoveSubscriptionInfo(),
        DataTypes.KeepAliveInfo => new KeepAliveInfo(),
        DataTypes.ShutdownInfo => new ShutdownInfo(),
        DataTypes.RemoveInfo => new RemoveInfo(),
        DataTypes.ControlCommand => new ControlCommand(),
        DataTypes.FlushCommand => new FlushCommand(),
        DataTypes.ConnectionError => new ConnectionError(),
        DataTypes.ConsumerControl => new ConsumerControl(),
        DataTypes.ConnectionControl => new ConnectionControl(),
        DataTypes.ProducerAck => new ProducerAck(),
        DataTypes.MessagePull => new MessagePull(),
        DataTypes.MessageDispatch => new MessageDispatch(),
        DataTypes.MessageAck => new MessageAck(),
        >= DataTypes.Message and <= DataTypes.TextMessage => new Message(dataType),
        DataTypes.BlobMessage => new BlobMessage(),
        DataTypes.Response => new Response(),
        DataTypes.ExceptionResponse => new ExceptionResponse(),
        DataTypes.DataResponse => new DataResponse(),
        DataTypes.DataArrayResponse => new DataArrayResponse(),
        DataTypes.IntegerResponse => new IntegerResponse(),
        DataTypes.DiscoveryEvent => new DiscoveryEvent(),
        DataTypes.SubscriptionInfo => new SubscriptionInfo(),
        DataTypes.PartialCommand => new PartialCommand(last: false),
        DataTypes.LastPartialCommand => new PartialCommand(last: true),
        DataTypes.ReplayCommand => new ReplayCommand(),
        DataTypes.MessageDispatchNotification => new MessageDispatchNotification(),
        DataTypes.NetworkBridgeFilter => new NetworkBridgeFilter(),
        DataTypes.BrokerSubscriptionInfo when version >= 12 => new BrokerSubscriptionInfo(),
        >= DataTypes.Queue and <= DataTypes.TempTopic => Destination.OfType(dataType),
        DataTypes.MessageId => new MessageId(),
        DataTypes.LocalTransactionId => new LocalTransactionId(),
        DataTypes.XATransactionId => new XATransactionId(),
        DataTypes.ConnectionId => new ConnectionId(),
        DataTypes.SessionId => new SessionId(),
        DataTypes.ConsumerId => new ConsumerId(),
        DataTypes.ProducerId => new ProducerId(),
        DataTypes.BrokerId => new BrokerId(),
        _ => throw new ProtocolException($"Unknown data type {dataType}"),
    };

    public static T Cast<T>(DataStructure value) where T : DataStructure =>
        value as T ?? throw new ProtocolException($"Expected {typeof(T).Name} but found data type {value.DataType}");
}
