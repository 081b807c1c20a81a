using System.Text;
using Ferry.Broker.Clustering;
using Microsoft.Extensions.Logging;

namespace Ferry.Ha.Locks;

/// <summary>How a shared-directory lock behaves (ActiveMQ's option names).</summary>
public sealed record SharedDirectoryLockOptions
{
    /// <summary>A slave retries the lock this often (ActiveMQ's lockAcquireSleepInterval; 500 ms: a dead master's lock is taken within half a second).</summary>
    public TimeSpan LockAcquireSleepInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The master proves it still holds the lock this often (ActiveMQ's lockKeepAlivePeriod).</summary>
    public TimeSpan LockKeepAlivePeriod { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// An exclusive OS lock on <c>&lt;directory&gt;/lock</c> (flock on Linux). The kernel releases it the
/// moment the holder dies, so a waiting slave takes over within one retry interval. The master
/// rewrites its heartbeat into the locked file every keep-alive period; a failure (a network file
/// system that dropped the lock or the handle) reports the lock as lost.
/// </summary>
public sealed partial class SharedDirectoryLock : IBrokerLock
{
    private readonly string _path;
    private readonly SharedDirectoryLockOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<string> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _holder;
    private FileStream? _file;
    private ITimer? _keepAlive;

    public SharedDirectoryLock(string directory, string brokerName, SharedDirectoryLockOptions options, TimeProvider time, ILogger logger)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, "lock");
        _options = options;
        _time = time;
        _logger = logger;
        _holder = $"{brokerName} pid {Environment.ProcessId} on {Environment.MachineName}";
    }

    public string Description => "shared directory lock " + _path;

    public Task<string> Lost => _lost.Task;

    public async Task AcquireAsync(CancellationToken cancellationToken)
    {
        bool announced = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                _file = new FileStream(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                break;
            }
            catch (IOException ex) when (!announced)
            {
                announced = true;
                LogSlave(_logger, _path, ex.Message, _options.LockAcquireSleepInterval.TotalMilliseconds);
            }
            catch (IOException)
            {
            }
            await Task.Delay(_options.LockAcquireSleepInterval, _time, cancellationToken);
        }
        Heartbeat();
        LogAcquired(_logger, _path);
        _keepAlive = _time.CreateTimer(_ => Heartbeat(), null, _options.LockKeepAlivePeriod, _options.LockKeepAlivePeriod);
    }

    private void Heartbeat()
    {
        var file = _file;
        if (file is null || _lost.Task.IsCompleted)
        {
            return;
        }
        try
        {
            var line = Encoding.UTF8.GetBytes($"{_holder} at {_time.GetUtcNow():O}\n");
            file.SetLength(0);
            file.Position = 0;
            file.Write(line);
            file.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            string reason = $"cannot renew the lock on {_path}: {ex.Message}";
            LogLost(_logger, reason);
            _lost.TrySetResult(reason);
        }
    }

    public ValueTask DisposeAsync()
    {
        _keepAlive?.Dispose();
        _file?.Dispose();
        _file = null;
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Broker is a slave: the lock {Path} is held by another broker ({Reason}); retrying every {Interval} ms")]
    private static partial void LogSlave(ILogger logger, string path, string reason, double interval);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Broker is the master: acquired the lock {Path}")]
    private static partial void LogAcquired(ILogger logger, string path);

    [LoggerMessage(EventId = 402, Level = LogLevel.Critical, Message = "Lost the broker lock: {Reason}")]
    private static partial void LogLost(ILogger logger, string reason);
}
