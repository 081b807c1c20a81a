using Ferry.Broker.Destinations;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Connections;

public sealed partial class OpenWireConnection
{
    /// <summary>
    /// A local transaction: sends are held back and acks only reserve their messages until commit,
    /// when both are written to the store in one atomic batch.
    /// </summary>
    private sealed class LocalTransaction
    {
        public List<Message> Sends { get; } = [];
        public List<(ConsumerState Consumer, List<MessageReference> References)> Acks { get; } = [];
    }

    private LocalTransaction Transaction(TransactionId id)
    {
        if (id.IsXa)
        {
            throw new BrokerException(JmsErrors.JmsException, "XA transactions are not supported by this broker yet");
        }
        return _transactions.TryGetValue(id, out var transaction)
            ? transaction
            : throw new BrokerException(JmsErrors.TransactionRolledBack, $"Transaction {id} is not open on this connection (it was never begun, or already ended)");
    }

    private async ValueTask<Response?> OnTransactionAsync(TransactionInfo info)
    {
        RequireConnected();
        if (info.Kind == TransactionType.Recover)
        {
            // No XA transactions are ever prepared here, so there is nothing to recover.
            return new DataArrayResponse { Data = [] };
        }
        var id = info.TransactionId ?? throw new BrokerException("TransactionInfo without a transaction id");
        if (id.IsXa)
        {
            throw new BrokerException(JmsErrors.JmsException, "XA transactions are not supported by this broker yet");
        }
        switch (info.Kind)
        {
            case TransactionType.Begin:
                if (!_transactions.TryAdd(id, new LocalTransaction()))
                {
                    throw new BrokerException($"Transaction {id} is already open");
                }
                return null;
            case TransactionType.CommitOnePhase:
                {
                    var transaction = Transaction(id);
                    _transactions.Remove(id);
                    await CommitAsync(transaction);
                    return null;
                }
            case TransactionType.Rollback:
                {
                    var transaction = Transaction(id);
                    _transactions.Remove(id);
                    Rollback(transaction);
                    return null;
                }
            default:
                throw new BrokerException(JmsErrors.JmsException, $"Transaction operation {info.Kind} needs XA, which is not supported yet");
        }
    }

    private async ValueTask CommitAsync(LocalTransaction transaction)
    {
        // Take the acked messages away from their consumers first: the store then removes exactly
        // those still held (a consumer closed meanwhile has given its messages back to the queue).
        var consumed = new List<MessageReference>();
        foreach (var (consumer, references) in transaction.Acks)
        {
            if (consumer.Queue is { } queue)
            {
                var held = references.Where(r => consumer.Subscription.Dispatched.Contains(r)).ToList();
                queue.CommitAcknowledged(consumer.Subscription, references);
                consumed.AddRange(held);
            }
            else if (consumer.Subscription is TopicSubscription topic)
            {
                var held = references.Where(r => topic.Dispatched.Contains(r)).ToList();
                topic.CommitAcknowledged(references);
                foreach (var reference in held)
                {
                    // Durable subscriptions remove per subscription; the broker does that after the commit batch.
                    if (topic.Durable is not null)
                    {
                        ((IDestinationHost)_broker).Consumed(reference.Message.Destination!, reference, topic.Durable.Id);
                    }
                }
            }
        }
        await _broker.CommitAsync(transaction.Sends, consumed, _connectionClosed.Token);
    }

    private static void Rollback(LocalTransaction transaction)
    {
        foreach (var (consumer, references) in transaction.Acks)
        {
            if (consumer.Queue is { } queue)
            {
                queue.RollbackAcknowledged(consumer.Subscription, references.Count);
            }
            else if (consumer.Subscription is TopicSubscription topic)
            {
                topic.RollbackAcknowledged(references.Count);
            }
        }
    }

    private void AcknowledgeInTransaction(ConsumerState state, MessageAck ack)
    {
        var transaction = Transaction(ack.TransactionId!);
        var covered = state.Queue is { } queue
            ? queue.AcknowledgeInTransaction(state.Subscription, ack)
            : ((TopicSubscription)state.Subscription).AcknowledgeInTransaction(ack);
        transaction.Acks.Add((state, covered));
    }
}
