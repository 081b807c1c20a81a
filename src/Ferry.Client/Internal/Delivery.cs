using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>One dispatched message inside its consumer: what acks name and local redelivery counts.</summary>
internal sealed class Delivery(MessageConsumer consumer, Wire.MessageDispatch dispatch)
{
    public MessageConsumer Consumer { get; } = consumer;
    public Wire.MessageDispatch Dispatch { get; } = dispatch;
    public Wire.Message Message => Dispatch.Message!;
    public Wire.MessageId? MessageId => Message.MessageId;
    public int RedeliveryCounter { get; set; } = Math.Max(dispatch.RedeliveryCounter, dispatch.Message?.RedeliveryCounter ?? 0);
}
