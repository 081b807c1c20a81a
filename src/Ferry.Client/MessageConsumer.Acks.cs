using Ferry.Client.Internal;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

// Acknowledgements, as the ActiveMQ Java client sends them (openwire.md 10.4):
// auto → one STANDARD ack per message once it is consumed; dups-ok → STANDARD ranges in batches;
// client → DELIVERED acks as messages are delivered, one STANDARD range on acknowledge();
// individual → DELIVERED acks, then one INDIVIDUAL ack per acknowledge();
// transacted → DELIVERED acks with the transaction id, then a STANDARD range with it before COMMIT.
// Rollback and recover redeliver locally; past the redelivery limit a POISON ack sends the messages to the DLQ.
public sealed partial class MessageConsumer
{
    private int BatchThreshold => Math.Max(1, (int)Math.Ceiling(_info.PrefetchSize * 0.5));

    /// <summary>Hands one message to the application: expired ones are acked as expired instead (null).</summary>
    private async ValueTask<Message?> DeliverAsync(Delivery delivery)
    {
        var wire = delivery.Message;
        if (wire.IsExpired(Connection.Time.GetUtcNow().ToUnixTimeMilliseconds()))
        {
            await SendAckAsync(Wire.AckType.Expired, delivery, delivery, 1, null, CancellationToken.None);
            return null;
        }
        var tx = await Session.EnsureTransactionAsync(CancellationToken.None);
        var message = MessageCodec.FromWire(wire, delivery.RedeliveryCounter, Destination);
        message.Delivery = delivery;
        List<Delivery>? deliveredAck = null;
        lock (_gate)
        {
            _delivered.Add(delivery);
            if (wire.MessageId is { } id)
            {
                Interlocked.Exchange(ref _lastDeliveredSequenceId, id.BrokerSequenceId);
            }
            if (Session.AcknowledgeMode is AcknowledgeMode.Client or AcknowledgeMode.Individual or AcknowledgeMode.Transacted)
            {
                _awaitingDeliveredAck.Add(delivery);
                if (_awaitingDeliveredAck.Count >= BatchThreshold)
                {
                    deliveredAck = [.. _awaitingDeliveredAck];
                    _awaitingDeliveredAck.Clear();
                }
            }
        }
        if (deliveredAck is not null)
        {
            await SendAckAsync(Wire.AckType.Delivered, deliveredAck[0], deliveredAck[^1], deliveredAck.Count, tx, CancellationToken.None);
        }
        return message;
    }

    /// <summary>After receive returns or the listener returns: auto acks now, dups-ok acks a batch.</summary>
    private async ValueTask AfterConsumedAsync(Delivery delivery)
    {
        switch (Session.AcknowledgeMode)
        {
            case AcknowledgeMode.Auto:
                lock (_gate)
                {
                    if (!_delivered.Remove(delivery))
                    {
                        return;
                    }
                }
                await SendAckAsync(Wire.AckType.Standard, delivery, delivery, 1, null, CancellationToken.None);
                break;
            case AcknowledgeMode.DupsOk:
                bool due;
                lock (_gate)
                {
                    due = _delivered.Count >= BatchThreshold;
                }
                if (due)
                {
                    await AcknowledgeDeliveredAsync(Wire.AckType.Standard, null, CancellationToken.None);
                }
                break;
        }
    }

    /// <summary><see cref="Message.AcknowledgeAsync"/>: the whole session in client mode, this message in individual mode.</summary>
    internal async Task AcknowledgeAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        switch (Session.AcknowledgeMode)
        {
            case AcknowledgeMode.Client:
                await Session.AcknowledgeAllAsync(cancellationToken);
                break;
            case AcknowledgeMode.Individual:
                lock (_gate)
                {
                    if (!_delivered.Remove(delivery))
                    {
                        return;
                    }
                    _awaitingDeliveredAck.Remove(delivery);
                }
                await SendAckAsync(Wire.AckType.Individual, null, delivery, 1, null, cancellationToken);
                break;
        }
    }

    /// <summary>
    /// One ack covering every delivered, unacknowledged message (oldest to newest). A STANDARD ack outside a
    /// transaction forgets them at once; a transacted one keeps them until the commit succeeds.
    /// </summary>
    internal async Task AcknowledgeDeliveredAsync(Wire.AckType type, Wire.TransactionId? transactionId, CancellationToken cancellationToken)
    {
        Delivery[] range;
        lock (_gate)
        {
            if (_delivered.Count == 0)
            {
                return;
            }
            range = [.. _delivered];
            if (transactionId is null)
            {
                _delivered.Clear();
                _awaitingDeliveredAck.Clear();
            }
        }
        await SendAckAsync(type, range[0], range[^1], range.Length, transactionId, cancellationToken);
    }

    /// <summary>After a commit: the delivered messages are consumed for good.</summary>
    internal void ForgetDelivered()
    {
        lock (_gate)
        {
            _delivered.Clear();
            _awaitingDeliveredAck.Clear();
        }
    }

    /// <summary>
    /// Rollback or recover: every delivered, unacknowledged message goes back to the front of the queue with
    /// its redelivery counter raised; past the policy's limit they are POISON-acked instead (to the DLQ).
    /// A REDELIVERED ack tells the broker when a message is redelivered for the second time or more.
    /// </summary>
    internal async Task RedeliverLocallyAsync(CancellationToken cancellationToken)
    {
        Delivery[] range;
        lock (_gate)
        {
            if (_delivered.Count == 0)
            {
                return;
            }
            range = [.. _delivered];
            _delivered.Clear();
            _awaitingDeliveredAck.Clear();
        }
        var newest = range[^1];
        int previousCount = newest.RedeliveryCounter;
        foreach (var delivery in range)
        {
            delivery.RedeliveryCounter++;
        }
        int maximum = Connection.Options.Redelivery.MaximumRedeliveries;
        if (maximum >= 0 && newest.RedeliveryCounter > maximum)
        {
            await SendAckAsync(Wire.AckType.Poison, range[0], newest, range.Length, null, cancellationToken,
                new Protocol.OpenWire.BrokerError("javax.jms.JMSException", $"Delivery count {newest.RedeliveryCounter} exceeds the redelivery policy limit of {maximum}"));
            return;
        }
        if (previousCount > 0)
        {
            await SendAckAsync(Wire.AckType.Redelivered, range[0], newest, range.Length, null, cancellationToken);
        }
        lock (_gate)
        {
            for (int i = range.Length - 1; i >= 0; i--)
            {
                _unconsumed.AddFirst(range[i]);
            }
        }
        Wake();
    }

    private ValueTask SendAckAsync(Wire.AckType type, Delivery? first, Delivery last, int count, Wire.TransactionId? transactionId,
        CancellationToken cancellationToken, Protocol.OpenWire.BrokerError? poisonCause = null) =>
        Connection.SendAsync(new Wire.MessageAck
        {
            AckType = type,
            ConsumerId = Id,
            Destination = last.Dispatch.Destination,
            FirstMessageId = first?.MessageId,
            LastMessageId = last.MessageId,
            MessageCount = count,
            TransactionId = transactionId,
            PoisonCause = poisonCause,
        }, cancellationToken);
}
