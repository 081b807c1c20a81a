using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Store.Memory;

/// <summary>
/// Keeps everything in process memory: for brokers with persistence off and for engine tests. It
/// honours the same contract as the journal (atomic batches, recovery of what it holds), it just
/// does not outlive the process.
/// </summary>
public sealed class MemoryPersistenceAdapter : IPersistenceAdapter
{
    private readonly object _gate = new();
    private readonly Dictionary<(Destination, MessageId), Entry> _messages = [];
    private readonly Dictionary<long, DurableSubscriptionInfo> _subscriptions = [];
    private readonly Dictionary<string, long> _producerSequences = new(StringComparer.Ordinal);
    private long _arrival;
    private long _bytes;

    public string Description => "memory";

    public long UsedBytes => Interlocked.Read(ref _bytes);

    public int MessageCount
    {
        get
        {
            lock (_gate)
            {
                return _messages.Count;
            }
        }
    }

    public Task<RecoveredStore> RecoverAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var messages = _messages.Values.OrderBy(e => e.Arrival)
                .Select(e => new RecoveredMessage(MessageMarshaller.Unmarshal(e.Bytes), e.Pending.ToList()))
                .ToList();
            return Task.FromResult(new RecoveredStore(messages, _subscriptions.Values.ToList(), new Dictionary<string, long>(_producerSequences)));
        }
    }

    public ValueTask StoreAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var operation in batch.Operations)
            {
                Apply(operation);
            }
        }
        return ValueTask.CompletedTask;
    }

    private void Apply(StoreOperation operation)
    {
        switch (operation)
        {
            case AddMessage add:
                var message = add.Message;
                var bytes = MessageMarshaller.Marshal(message);
                _messages[(message.Destination!, message.MessageId!)] = new Entry(bytes, [.. add.Subscriptions ?? []], ++_arrival);
                _bytes += bytes.Length;
                if (message.MessageId!.ProducerId is { } producer)
                {
                    string key = producer.ToString();
                    _producerSequences[key] = Math.Max(_producerSequences.GetValueOrDefault(key), message.MessageId.ProducerSequenceId);
                }
                break;
            case RemoveMessage remove:
                if (_messages.TryGetValue((remove.Destination, remove.MessageId), out var entry))
                {
                    if (remove.SubscriptionId is { } sub)
                    {
                        entry.Pending.Remove(sub);
                    }
                    if (remove.SubscriptionId is null || entry.Pending.Count == 0)
                    {
                        _messages.Remove((remove.Destination, remove.MessageId));
                        _bytes -= entry.Bytes.Length;
                    }
                }
                break;
            case AddDurableSubscription addSub:
                _subscriptions[addSub.Subscription.Id] = addSub.Subscription;
                break;
            case RemoveDurableSubscription removeSub:
                _subscriptions.Remove(removeSub.SubscriptionId);
                foreach (var (key, e) in _messages.ToList())
                {
                    if (e.Pending.Remove(removeSub.SubscriptionId) && e.Pending.Count == 0)
                    {
                        _messages.Remove(key);
                        _bytes -= e.Bytes.Length;
                    }
                }
                break;
            default:
                throw new ArgumentException($"Unknown store operation {operation.GetType().Name}", nameof(operation));
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed record Entry(byte[] Bytes, HashSet<long> Pending, long Arrival);
}
