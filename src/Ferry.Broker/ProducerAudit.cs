using System.Collections.Concurrent;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker;

/// <summary>
/// The highest message sequence accepted per producer, so a message resent after a client
/// failover (same producer id and sequence) is stored and delivered once. Bounded: the oldest
/// producers are forgotten first.
/// </summary>
public sealed class ProducerAudit
{
    private readonly ConcurrentDictionary<string, long> _last = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly int _maxProducers;

    public ProducerAudit(int maxProducers = 64 * 1024) => _maxProducers = maxProducers;

    public int Count => _last.Count;

    public bool IsDuplicate(MessageId id) =>
        id.ProducerId is { } producer && _last.TryGetValue(producer.ToString(), out long last) && id.ProducerSequenceId <= last;

    public void Record(MessageId id)
    {
        if (id.ProducerId is not { } producer)
        {
            return;
        }
        Record(producer.ToString(), id.ProducerSequenceId);
    }

    public void Record(string producer, long sequence)
    {
        bool added = false;
        _last.AddOrUpdate(producer, _ => { added = true; return sequence; }, (_, old) => Math.Max(old, sequence));
        if (added)
        {
            _order.Enqueue(producer);
            while (_last.Count > _maxProducers && _order.TryDequeue(out var oldest))
            {
                _last.TryRemove(oldest, out _);
            }
        }
    }
}
