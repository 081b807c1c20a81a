using System.Globalization;
using System.Text;
using Ferry.Broker.Clustering;
using Microsoft.Extensions.Logging;

namespace Ferry.Ha.Locks;

/// <summary>A lock's timings (ActiveMQ's option names), shared by every kind of broker lock.</summary>
public abstract record LockTimings
{
    /// <summary>A slave retries this often (ActiveMQ's lockAcquireSleepInterval; 500 ms: a dead master is replaced within half a second).</summary>
    public TimeSpan LockAcquireSleepInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The master renews its lease this often (ActiveMQ's lockKeepAlivePeriod).</summary>
    public TimeSpan LockKeepAlivePeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A lease not renewed for this long lets a slave take over from a master that is alive but stuck (3 s).</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>How a shared-directory lock behaves.</summary>
public sealed record SharedDirectoryLockOptions : LockTimings;

/// <summary>
/// Master/slave on a shared directory, with fencing.
/// <list type="bullet">
/// <item>The master holds an exclusive OS lock on <c>lock</c>; the kernel drops it the instant the master
/// dies, so a slave takes over within one retry interval.</item>
/// <item>The master also holds a lease in <c>lease</c> (epoch, holder, expiry), renewed every keep-alive
/// period. A slave takes over from a master that is alive but stuck (frozen, partitioned from the file
/// system) once the lease has expired, even though the stuck process still holds the OS lock.</item>
/// <item>Each new master writes epoch + 1. Every store write checks the lease file first
/// (<see cref="CheckFence"/>): a stale master that wakes up finds a newer epoch, writes nothing, and
/// its next renewal reports the lock lost, which stops it.</item>
/// <item>Slaves elect one candidate with an OS lock on <c>slave.lock</c>; a master that took over from a
/// stuck one keeps that lock until it also holds <c>lock</c>, so no second slave can mistake the stuck
/// master's eventual exit for a free store.</item>
/// </list>
/// </summary>
public sealed partial class SharedDirectoryLock : IBrokerLock
{
    private readonly string _masterPath;
    private readonly string _candidatePath;
    private readonly string _leasePath;
    private readonly SharedDirectoryLockOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<string> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _holder;
    private readonly object _gate = new();
    private FileStream? _masterLock;
    private FileStream? _candidateLock;
    private ITimer? _keepAlive;
    private long _epoch;

    public SharedDirectoryLock(string directory, string brokerName, SharedDirectoryLockOptions options, TimeProvider time, ILogger logger)
    {
        Directory.CreateDirectory(directory);
        _masterPath = Path.Combine(directory, "lock");
        _candidatePath = Path.Combine(directory, "slave.lock");
        _leasePath = Path.Combine(directory, "lease");
        _options = options;
        _time = time;
        _logger = logger;
        _holder = $"{brokerName}/pid{Environment.ProcessId}/{Environment.MachineName}".Replace(' ', '_');
    }

    public string Description => "shared directory lock " + _masterPath;

    public Task<string> Lost => _lost.Task;

    public long Epoch => Interlocked.Read(ref _epoch);

    public async Task AcquireAsync(CancellationToken cancellationToken)
    {
        bool announced = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _candidateLock ??= TryLock(_candidatePath);
            if (_candidateLock is not null)
            {
                _masterLock = TryLock(_masterPath);
                var lease = ReadLease();
                string? why = _masterLock is not null ? "the previous master is gone (its lock is free)"
                    : lease is null ? null
                    : lease.Value.Expires <= Now ? $"the lease of {lease.Value.Holder} (epoch {lease.Value.Epoch}) expired without renewal"
                    : null;
                if (why is not null)
                {
                    long epoch = (lease?.Epoch ?? 0) + 1;
                    Interlocked.Exchange(ref _epoch, epoch);
                    WriteLease(epoch);
                    if (_masterLock is not null)
                    {
                        ReleaseCandidate();
                    }
                    LogAcquired(_logger, _masterPath, epoch, why);
                    _keepAlive = _time.CreateTimer(_ => Renew(), null, _options.LockKeepAlivePeriod, _options.LockKeepAlivePeriod);
                    return;
                }
            }
            if (!announced)
            {
                announced = true;
                LogSlave(_logger, _masterPath, _options.LockAcquireSleepInterval.TotalMilliseconds);
            }
            await Task.Delay(_options.LockAcquireSleepInterval, _time, cancellationToken);
        }
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Renews the lease, unless someone newer holds it: then the lock is lost.</summary>
    private void Renew()
    {
        if (_lost.Task.IsCompleted)
        {
            return;
        }
        try
        {
            lock (_gate)
            {
                var lease = ReadLease();
                if (lease is { } current && current.Epoch != Epoch)
                {
                    Lose($"broker {current.Holder} took over with epoch {current.Epoch} (this broker held epoch {Epoch})");
                    return;
                }
                WriteLease(Epoch);
                if (_masterLock is null && (_masterLock = TryLock(_masterPath)) is not null)
                {
                    ReleaseCandidate();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException or FormatException)
        {
            Lose($"cannot renew the lease in {_leasePath}: {ex.Message}");
        }
    }

    public void CheckFence()
    {
        if (_lost.Task.IsCompleted)
        {
            throw new IOException("this broker lost its lock: " + _lost.Task.Result);
        }
        var lease = ReadLease();
        if (lease is { } current && current.Epoch != Epoch)
        {
            string reason = $"broker {current.Holder} took over with epoch {current.Epoch}; this broker's epoch {Epoch} is fenced off";
            Lose(reason);
            throw new IOException(reason);
        }
    }

    private void Lose(string reason)
    {
        if (_lost.TrySetResult(reason))
        {
            LogLost(_logger, reason);
        }
    }

    private static FileStream? TryLock(string path)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void ReleaseCandidate()
    {
        _candidateLock?.Dispose();
        _candidateLock = null;
    }

    private (long Epoch, string Holder, long Expires)? ReadLease()
    {
        string text;
        try
        {
            text = File.ReadAllText(_leasePath);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 3)
        {
            throw new FormatException($"lease file {_leasePath} is malformed: '{text.Trim()}'");
        }
        return (long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    /// <summary>Writes the lease atomically (a new file renamed over the old) and durably.</summary>
    private void WriteLease(long epoch)
    {
        string temp = _leasePath + "." + Environment.ProcessId + ".tmp";
        long expires = Now + (long)_options.LeaseDuration.TotalMilliseconds;
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{epoch} {_holder} {expires}\n")));
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, _leasePath, overwrite: true);
    }

    public ValueTask DisposeAsync()
    {
        _keepAlive?.Dispose();
        _masterLock?.Dispose();
        _masterLock = null;
        ReleaseCandidate();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Broker is a slave: the lock {Path} is held by another broker; retrying every {Interval} ms")]
    private static partial void LogSlave(ILogger logger, string path, double interval);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Broker is the master: acquired the lock {Path} with epoch {Epoch} ({Why})")]
    private static partial void LogAcquired(ILogger logger, string path, long epoch, string why);

    [LoggerMessage(EventId = 402, Level = LogLevel.Critical, Message = "Lost the broker lock: {Reason}")]
    private static partial void LogLost(ILogger logger, string reason);
}
