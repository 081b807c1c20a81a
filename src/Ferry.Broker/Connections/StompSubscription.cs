using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Connections;

internal enum StompAckMode
{
    Auto,
    /// <summary>Cumulative: an ACK covers every earlier delivery of the subscription.</summary>
    Client,
    ClientIndividual,
}

/// <summary>One delivery waiting for the client's ACK: its 1.2 ack id and the message.</summary>
internal sealed record StompDelivery(long Sequence, string AckId, MessageId MessageId);

/// <summary>
/// A STOMP SUBSCRIBE and the consumer it became. <see cref="Unacked"/> is filled by the write loop
/// and emptied by ACKs in the read loop: lock it.
/// </summary>
internal sealed class StompSubscription(string? id, ConsumerId consumerId, Destination destination, string stompDestination, StompAckMode mode)
{
    /// <summary>The client's id, sent back as the MESSAGE <c>subscription</c> header (none for an id-less 1.0 SUBSCRIBE).</summary>
    public string? Id { get; } = id;
    public ConsumerId ConsumerId { get; } = consumerId;
    public Destination Destination { get; } = destination;
    public string StompDestination { get; } = stompDestination;
    public StompAckMode Mode { get; } = mode;
    public List<StompDelivery> Unacked { get; } = [];
}
