namespace Ferry.Protocol.Transport;

/// <summary>
/// Watches a connection both ways: if nothing was read for a whole read interval the peer is dead;
/// if nothing was written for a write interval a keep-alive is due. Time comes from a TimeProvider
/// so tests drive it with a fake clock.
/// </summary>
public sealed class InactivityMonitor : IDisposable
{
    private readonly Action _onReadTimeout;
    private readonly Action _onWriteIdle;
    private ITimer? _readTimer;
    private ITimer? _writeTimer;
    private int _readActivity;
    private int _writeActivity;

    public InactivityMonitor(TimeProvider time, TimeSpan readInterval, TimeSpan writeInterval, TimeSpan initialDelay, Action onReadTimeout, Action onWriteIdle)
    {
        _onReadTimeout = onReadTimeout;
        _onWriteIdle = onWriteIdle;
        // Either direction may be off (STOMP heart-beats negotiate each one separately).
        if (readInterval > TimeSpan.Zero)
        {
            _readTimer = time.CreateTimer(_ => CheckRead(), null, initialDelay + readInterval, readInterval);
        }
        if (writeInterval > TimeSpan.Zero)
        {
            _writeTimer = time.CreateTimer(_ => CheckWrite(), null, initialDelay, writeInterval);
        }
    }

    public void MarkRead() => Volatile.Write(ref _readActivity, 1);

    public void MarkWritten() => Volatile.Write(ref _writeActivity, 1);

    private void CheckRead()
    {
        if (Interlocked.Exchange(ref _readActivity, 0) == 0)
        {
            _onReadTimeout();
        }
    }

    private void CheckWrite()
    {
        if (Interlocked.Exchange(ref _writeActivity, 0) == 0)
        {
            _onWriteIdle();
        }
    }

    public void Dispose()
    {
        _readTimer?.Dispose();
        _writeTimer?.Dispose();
        _readTimer = null;
        _writeTimer = null;
    }
}
