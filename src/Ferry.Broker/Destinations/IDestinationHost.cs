using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// What destinations ask of the broker. Destinations call these after releasing their own lock,
/// since the broker may touch the store and other destinations.
/// </summary>
public interface IDestinationHost
{
    TimeProvider Time { get; }

    /// <summary>A message left the destination for good (acknowledged); persistent ones are removed from the store.</summary>
    void Consumed(Destination destination, MessageReference reference, long? subscriptionId);

    /// <summary>A message cannot be delivered (poison, redelivery limit): it moves to the dead-letter queue.</summary>
    void DeadLetter(Destination destination, MessageReference reference, string cause, long? subscriptionId);

    /// <summary>A message expired before delivery.</summary>
    void Expired(Destination destination, MessageReference reference, long? subscriptionId);

    /// <summary>Deliveries beyond this many redeliveries go to the dead-letter queue; negative means no limit.</summary>
    int MaximumRedeliveries(Destination destination);
}

/// <summary>Work decided under a destination's lock and carried out after it is released.</summary>
internal struct DeferredActions
{
    private List<(MessageReference Reference, int Kind, string? Cause)>? _items;

    public void Consumed(MessageReference reference) => (_items ??= []).Add((reference, 0, null));

    /// <summary>What an acknowledgement means for a message it removed: consumed, poisoned or expired.</summary>
    public void Acknowledged(MessageReference reference, MessageAck ack)
    {
        switch (ack.AckType)
        {
            case AckType.Poison:
                DeadLetter(reference, ack.PoisonCause?.Message ?? "poison acknowledgement");
                break;
            case AckType.Expired:
                Expired(reference);
                break;
            default:
                Consumed(reference);
                break;
        }
    }
    public void DeadLetter(MessageReference reference, string cause) => (_items ??= []).Add((reference, 1, cause));
    public void Expired(MessageReference reference) => (_items ??= []).Add((reference, 2, null));

    /// <summary>Runs the actions against each message's own destination (topic subscriptions span several).</summary>
    public readonly void RunPerMessage(IDestinationHost host, long? subscriptionId)
    {
        if (_items is null)
        {
            return;
        }
        foreach (var (reference, kind, cause) in _items)
        {
            var destination = reference.Message.Destination!;
            switch (kind)
            {
                case 0: host.Consumed(destination, reference, subscriptionId); break;
                case 1: host.DeadLetter(destination, reference, cause!, subscriptionId); break;
                default: host.Expired(destination, reference, subscriptionId); break;
            }
        }
    }

    public readonly void Run(IDestinationHost host, Destination destination, long? subscriptionId)
    {
        if (_items is null)
        {
            return;
        }
        foreach (var (reference, kind, cause) in _items)
        {
            switch (kind)
            {
                case 0: host.Consumed(destination, reference, subscriptionId); break;
                case 1: host.DeadLetter(destination, reference, cause!, subscriptionId); break;
                default: host.Expired(destination, reference, subscriptionId); break;
            }
        }
    }
}
