namespace Ferry.Broker.Clustering;

/// <summary>
/// Shared-storage master/slave: only the holder of the lock serves. A broker calls
/// <see cref="AcquireAsync"/> before it recovers the store and opens its connectors (while it waits
/// it is a slave); once it holds the lock it watches <see cref="Lost"/> and stops serving at once
/// when that completes. Implementations live in Ferry.Ha.
/// </summary>
public interface IBrokerLock : IAsyncDisposable
{
    /// <summary>What is locked, for logs (e.g. "shared directory /data").</summary>
    string Description { get; }

    /// <summary>Waits, retrying, until this broker holds the lock. Cancelling gives up waiting.</summary>
    Task AcquireAsync(CancellationToken cancellationToken);

    /// <summary>Completes (with the reason) if the lock is lost after it was acquired.</summary>
    Task<string> Lost { get; }

    /// <summary>The fencing epoch this broker holds: each new master takes a higher one.</summary>
    long Epoch { get; }

    /// <summary>
    /// Throws if a master with a newer epoch has taken over: every store write calls it first, so a
    /// stale master (frozen past its lease, then resumed) never writes again.
    /// </summary>
    void CheckFence();
}
