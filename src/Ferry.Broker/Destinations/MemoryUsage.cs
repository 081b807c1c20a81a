namespace Ferry.Broker.Destinations;

/// <summary>
/// Bytes of messages held, against a limit, with an optional parent (a destination's usage counts
/// toward the broker's). Producers wait for space in arrival order; a wait is bounded by the caller.
/// </summary>
public sealed class MemoryUsage
{
    private readonly object _gate = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private readonly List<MemoryUsage> _children = [];
    private long _used;

    public MemoryUsage(string name, long limit, MemoryUsage? parent = null)
    {
        Name = name;
        Limit = limit;
        Parent = parent;
        if (parent is not null)
        {
            lock (parent._gate)
            {
                parent._children.Add(this);
            }
        }
    }

    public string Name { get; }
    /// <summary>0 means no limit of its own.</summary>
    public long Limit { get; }
    public MemoryUsage? Parent { get; }
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Whether this usage or any parent is at or past its limit.</summary>
    public bool IsFull => (Limit > 0 && Used >= Limit) || (Parent?.IsFull ?? false);

    public void Increase(long bytes)
    {
        Interlocked.Add(ref _used, bytes);
        Parent?.Increase(bytes);
    }

    public void Decrease(long bytes)
    {
        Interlocked.Add(ref _used, -bytes);
        Parent?.Decrease(bytes);
        ReleaseWaiters();
    }

    private void ReleaseWaiters()
    {
        if (IsFull)
        {
            return;
        }
        List<TaskCompletionSource>? ready = null;
        lock (_gate)
        {
            while (_waiters.First is { } first && !IsFull)
            {
                _waiters.RemoveFirst();
                (ready ??= []).Add(first.Value);
            }
        }
        if (ready is not null)
        {
            foreach (var waiter in ready)
            {
                waiter.TrySetResult();
            }
        }
        List<MemoryUsage> children;
        lock (_gate)
        {
            children = [.. _children];
        }
        foreach (var child in children)
        {
            // Space freed here may unblock producers waiting on a child whose own limit is fine.
            if (child._waiters.Count > 0)
            {
                child.ReleaseWaiters();
            }
        }
    }

    /// <summary>
    /// Waits until there is space. Returns false if <paramref name="timeout"/> passed first
    /// (a non-positive timeout waits until cancelled).
    /// </summary>
    public async Task<bool> WaitForSpaceAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!IsFull)
        {
            return true;
        }
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        LinkedListNode<TaskCompletionSource> node;
        lock (_gate)
        {
            node = _waiters.AddLast(waiter);
        }
        // Space may have been freed between the check and the enqueue.
        ReleaseWaiters();
        try
        {
            if (timeout > TimeSpan.Zero)
            {
                await waiter.Task.WaitAsync(timeout, time, cancellationToken);
            }
            else
            {
                await waiter.Task.WaitAsync(cancellationToken);
            }
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        finally
        {
            lock (_gate)
            {
                if (node.List is not null)
                {
                    _waiters.Remove(node);
                }
            }
        }
    }
}
