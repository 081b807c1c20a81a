using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// One message as held by one queue or subscription: the shared message plus the state that is
/// per holder (its redelivery count).
/// </summary>
public sealed class MessageReference
{
    public MessageReference(Message message)
    {
        Message = message;
        RedeliveryCounter = message.RedeliveryCounter;
    }

    public Message Message { get; }
    public long Sequence => Message.MessageId?.BrokerSequenceId ?? 0;
    public int RedeliveryCounter { get; set; }
    public MessageId Id => Message.MessageId!;

    public static readonly IComparer<MessageReference> BySequence =
        Comparer<MessageReference>.Create(static (a, b) => a.Sequence.CompareTo(b.Sequence));
}
