using Ferry.Broker.Selectors;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>Where a subscription's dispatches go: the consumer's connection.</summary>
public interface IConsumerEndpoint
{
    string ConnectionId { get; }
    /// <summary>Queues a command to the client without blocking; false once the connection is closed.</summary>
    bool Send(DataStructure command);
}

/// <summary>
/// A consumer's view of its destination: the prefetch window and the messages dispatched to it and
/// not yet acknowledged, in dispatch order. Not thread-safe: the owning queue's lock (or the topic
/// subscription's own lock) guards it.
/// </summary>
public abstract class Subscription
{
    private readonly DispatchedList _dispatched = new();
    private int _prefetchExtension;
    private int _pullCredit;

    protected Subscription(ConsumerInfo info, IConsumerEndpoint endpoint, TimeProvider time)
    {
        Info = info;
        Endpoint = endpoint;
        Time = time;
        Prefetch = info.PrefetchSize;
        Selector = string.IsNullOrWhiteSpace(info.Selector) ? null : MessageSelector.Parse(info.Selector);
    }

    public ConsumerInfo Info { get; private set; }
    public ConsumerId Id => Info.ConsumerId!;
    public IConsumerEndpoint Endpoint { get; private set; }
    public MessageSelector? Selector { get; }
    /// <summary>Bytes of messages this subscription holds, released as they are acknowledged.</summary>
    public MemoryUsage? Usage { get; init; }
    protected TimeProvider Time { get; }
    public int Prefetch { get; set; }
    public int DispatchedCount => _dispatched.Count;
    public bool IsClosed { get; private set; }

    /// <summary>A pull that is waiting for a message, and when it gives up (prefetch 0 consumers).</summary>
    public MessagePull? PendingPull { get; private set; }

    public bool HasCredit => !IsClosed && (Prefetch > 0
        ? _dispatched.Count - _prefetchExtension < Prefetch
        : _pullCredit > 0);

    public void MarkClosed() => IsClosed = true;

    /// <summary>Gives the subscription a new consumer (a durable subscriber reconnecting).</summary>
    protected void Rebind(ConsumerInfo info, IConsumerEndpoint endpoint)
    {
        Info = info;
        Endpoint = endpoint;
        Prefetch = info.PrefetchSize;
        IsClosed = false;
    }

    public void ShrinkPrefetch(int count) => _prefetchExtension = Math.Max(0, _prefetchExtension - count);

    /// <summary>Selector and no-local rules: whether a message may go to this consumer at all.</summary>
    public bool Matches(Message message) => Accepts(message) && (Selector is null || Selector.Matches(message));

    /// <summary>Sends one message to the consumer and records it as dispatched.</summary>
    public void Deliver(MessageReference reference, bool firstInGroup = false)
    {
        _dispatched.Add(reference);
        if (Prefetch == 0 && _pullCredit > 0)
        {
            _pullCredit--;
            PendingPull = null;
        }
        var message = reference.Message.CopyForDispatch();
        message.RedeliveryCounter = reference.RedeliveryCounter;
        message.BrokerOutTime = Time.GetUtcNow().ToUnixTimeMilliseconds();
        message.JmsxGroupFirstForConsumer = firstInGroup;
        Endpoint.Send(new MessageDispatch
        {
            ConsumerId = Id,
            Destination = Info.Destination,
            Message = message,
            RedeliveryCounter = reference.RedeliveryCounter,
        });
    }

    /// <summary>Records a MessagePull: the consumer may receive one message.</summary>
    public void AddPull(MessagePull pull)
    {
        _pullCredit = 1;
        PendingPull = pull;
    }

    /// <summary>Answers a pull that found nothing with an empty dispatch.</summary>
    public void ExpirePull()
    {
        if (PendingPull is null)
        {
            return;
        }
        PendingPull = null;
        _pullCredit = 0;
        Endpoint.Send(new MessageDispatch { ConsumerId = Id });
    }

    /// <summary>
    /// Applies an acknowledgement to the dispatched list. Messages the ack consumes are added to
    /// <paramref name="removed"/>; an ack naming a message that was never dispatched is refused.
    /// </summary>
    public void Acknowledge(MessageAck ack, List<MessageReference> removed)
    {
        var last = ack.LastMessageId ?? throw new BrokerException("Acknowledgement without a message id");
        int lastIndex = IndexOf(last);
        switch (ack.AckType)
        {
            case AckType.Delivered:
                if (lastIndex >= 0)
                {
                    _prefetchExtension = Math.Max(_prefetchExtension, lastIndex + 1);
                }
                return;
            case AckType.Redelivered:
                // The client redelivered these locally: count it, so a later requeue remembers.
                if (lastIndex >= 0)
                {
                    int from = ack.FirstMessageId is { } fr ? Math.Max(0, IndexOf(fr)) : 0;
                    for (int i = Math.Min(from, lastIndex); i <= lastIndex; i++)
                    {
                        _dispatched[i].RedeliveryCounter++;
                    }
                }
                return;
            case AckType.Individual:
                if (lastIndex < 0)
                {
                    throw Uncorrelated(ack);
                }
                removed.Add(_dispatched[lastIndex]);
                _dispatched.RemoveAt(lastIndex);
                _prefetchExtension = Math.Max(0, _prefetchExtension - 1);
                return;
            case AckType.Standard:
            case AckType.Poison:
            case AckType.Expired:
            case AckType.Unmatched:
                if (lastIndex < 0)
                {
                    throw Uncorrelated(ack);
                }
                int first = ack.FirstMessageId is { } f ? Math.Max(0, IndexOf(f)) : 0;
                if (first > lastIndex)
                {
                    first = lastIndex;
                }
                int count = lastIndex - first + 1;
                _dispatched.CopyTo(first, count, removed);
                _dispatched.RemoveRange(first, count);
                _prefetchExtension = Math.Max(0, _prefetchExtension - count);
                return;
            default:
                throw new BrokerException($"Unknown acknowledgement type {ack.AckTypeValue}");
        }
    }

    /// <summary>
    /// A transacted ack: the messages it covers stay dispatched until commit, but no longer count against
    /// the window meanwhile (as ActiveMQ does). The extension is an index, as for a DELIVERED ack: the
    /// DELIVERED acks before it usually counted these messages already, and counting them twice would
    /// leave the window one batch too wide after the commit.
    /// </summary>
    public List<MessageReference> CoverInTransaction(MessageAck ack)
    {
        var last = ack.LastMessageId ?? throw new BrokerException("Acknowledgement without a message id");
        int lastIndex = IndexOf(last);
        if (lastIndex < 0)
        {
            throw Uncorrelated(ack);
        }
        if (ack.AckType == AckType.Individual)
        {
            // One message, wherever it sits: one more slot (an index would free the unacked ones before it).
            _prefetchExtension++;
            return [_dispatched[lastIndex]];
        }
        _prefetchExtension = Math.Max(_prefetchExtension, lastIndex + 1);
        int first = ack.FirstMessageId is { } f ? Math.Max(0, IndexOf(f)) : 0;
        first = Math.Min(first, lastIndex);
        var covered = new List<MessageReference>(lastIndex - first + 1);
        _dispatched.CopyTo(first, lastIndex - first + 1, covered);
        return covered;
    }

    /// <summary>
    /// Removes exactly these messages (a committed transaction's acks) and the room their ack gave the
    /// window; returns those still present.
    /// </summary>
    public List<MessageReference> RemoveCommitted(IEnumerable<MessageReference> references)
    {
        var removed = new List<MessageReference>();
        foreach (var reference in references)
        {
            if (_dispatched.Remove(reference))
            {
                removed.Add(reference);
            }
        }
        ShrinkPrefetch(removed.Count);
        return removed;
    }

    private static BrokerException Uncorrelated(MessageAck ack) =>
        new($"Could not correlate acknowledgment with dispatched message: {ack.LastMessageId}");

    private int IndexOf(MessageId id) => _dispatched.IndexOf(id);

    /// <summary>Takes back everything dispatched and unacknowledged (the consumer is going away).</summary>
    public List<MessageReference> TakeDispatched()
    {
        var all = _dispatched.ToList();
        _dispatched.Clear();
        _prefetchExtension = 0;
        return all;
    }

    public IEnumerable<MessageReference> Dispatched => _dispatched;

    /// <summary>Whether a message arriving on a destination may go to this consumer.</summary>
    public bool Accepts(Message message) =>
        !(Info.NoLocal && message.ProducerId?.ConnectionId is { } producer && producer == Endpoint.ConnectionId);
}
