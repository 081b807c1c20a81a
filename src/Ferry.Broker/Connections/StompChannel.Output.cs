using System.IO.Pipelines;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Stomp;

namespace Ferry.Broker.Connections;

/// <summary>The write loop's side: queued engine commands become STOMP frames, in order.</summary>
public sealed partial class StompChannel
{
    private void Write(object item, PipeWriter output)
    {
        switch (item)
        {
            case StompFrame frame:
                StompWriter.Write(frame, Version, output);
                return;
            case MessageDispatch dispatch:
                WriteDispatch(dispatch, output);
                return;
            case ExceptionResponse failure:
                {
                    _pendingReplies.TryRemove(failure.CorrelationId, out var pending);
                    StompWriter.Write(ErrorFrame(failure.Exception?.Message ?? "request failed", pending?.ReceiptId), Version, output);
                    return;
                }
            case Response response:
                if (_pendingReplies.TryRemove(response.CorrelationId, out var reply) && reply.OnSuccess is { } success)
                {
                    StompWriter.Write(success, Version, output);
                }
                return;
            case ConnectionError error:
                StompWriter.Write(ErrorFrame(error.Exception?.Message ?? "connection error", null), Version, output);
                return;
            default:
                if (ReferenceEquals(item, HeartBeat) || item is KeepAliveInfo)
                {
                    StompWriter.WriteHeartBeat(output);
                }
                // BrokerInfo, ConnectionControl, ProducerAck and the like mean nothing to a STOMP client.
                return;
        }
    }

    private void WriteDispatch(MessageDispatch dispatch, PipeWriter output)
    {
        if (dispatch.ConsumerId is null || !_subscriptions.TryGetValue(dispatch.ConsumerId, out var subscription))
        {
            return; // unsubscribed meanwhile: the engine took its messages back
        }
        if (dispatch.Message is not { } message)
        {
            // A queue browser has seen the whole snapshot.
            var end = new List<KeyValuePair<string, string>>
            {
                new("browser", "end"),
                new(StompHeaders.Destination, subscription.StompDestination),
                new(StompHeaders.MessageId, "0"),
            };
            if (subscription.Id is { } sid)
            {
                end.Add(new(StompHeaders.Subscription, sid));
            }
            StompWriter.Write(new StompFrame(StompCommands.Message, [.. end], ReadOnlyMemory<byte>.Empty), Version, output);
            return;
        }
        string? ackId = null;
        StompDelivery? delivery = null;
        if (subscription.Mode != StompAckMode.Auto)
        {
            long sequence = Interlocked.Increment(ref _nextAckId);
            delivery = new StompDelivery(sequence, $"{_connectionId.Value}:{sequence}", message.MessageId!);
            ackId = Version == StompVersion.V12 ? delivery.AckId : null;
        }
        StompFrame frame;
        try
        {
            frame = StompMessageConverter.ToFrame(message, _nameOf, subscription.Id, ackId);
        }
        catch (Exception ex) when (ex is ProtocolException or InvalidDataException or FormatException)
        {
            // A message STOMP cannot carry goes to the dead-letter queue with the reason, not into the void
            // (acked) nor back to this client forever (unacked); the client is told and stays connected.
            string reason = "Could not convert message " + message.MessageId + ": " + ex.Message;
            _acknowledge(AckOf(subscription, message, AckType.Poison, new BrokerError("javax.jms.JMSException", reason)));
            StompWriter.Write(ErrorFrame(reason, null), Version, output);
            return;
        }
        if (delivery is null)
        {
            // As ActiveMQ: an auto subscription's message is acknowledged just before it is written.
            _acknowledge(AckOf(subscription, message, AckType.Standard, null));
        }
        else
        {
            lock (subscription.Unacked)
            {
                subscription.Unacked.Add(delivery);
            }
        }
        StompWriter.Write(frame, Version, output);
    }

    private static MessageAck AckOf(StompSubscription subscription, Message message, AckType type, BrokerError? cause) => new()
    {
        ConsumerId = subscription.ConsumerId,
        Destination = subscription.Destination,
        AckType = type,
        FirstMessageId = message.MessageId,
        LastMessageId = message.MessageId,
        MessageCount = 1,
        PoisonCause = cause,
    };

    /// <summary>This connection's temporary destinations go back by the names the client gave them.</summary>
    private string NameOf(Destination destination) =>
        destination.IsTemporary && _tempNames.TryGetValue(destination, out var name) ? name : StompDestinations.Format(destination);

    private static StompFrame ReceiptFrame(string receipt) =>
        new(StompCommands.Receipt, new KeyValuePair<string, string>(StompHeaders.ReceiptId, receipt));

    private static StompFrame ErrorFrame(string message, string? receiptId)
    {
        var headers = new List<KeyValuePair<string, string>>
        {
            new(StompHeaders.ContentType, "text/plain"),
            new(StompHeaders.Message, message),
        };
        if (receiptId is not null)
        {
            headers.Add(new(StompHeaders.ReceiptId, receiptId));
        }
        return new StompFrame(StompCommands.Error, [.. headers], Encoding.UTF8.GetBytes(message + "\n"));
    }
}
