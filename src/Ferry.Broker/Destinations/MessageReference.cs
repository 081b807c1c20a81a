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

    /// <summary>Queue order: higher JMSPriority first, then broker arrival order.</summary>
    public static readonly IComparer<MessageReference> ByPriorityThenSequence =
        Comparer<MessageReference>.Create(static (a, b) =>
        {
            int byPriority = b.Message.Priority.CompareTo(a.Message.Priority);
            return byPriority != 0 ? byPriority : a.Sequence.CompareTo(b.Sequence);
        });
}
