using Ferry.Broker.Clustering;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Ferry.Ha.Locks;

/// <summary>How a PostgreSQL lock behaves: where, and its timings (the lease on the database's clock).</summary>
public sealed record PostgresLockOptions : LockTimings
{
    public required string ConnectionString { get; init; }

    /// <summary>Prepended to the lease table's name (<c>{prefix}broker_lock</c>); the store uses the same prefix.</summary>
    public string TablePrefix { get; init; } = "ferry_";
}

/// <summary>
/// Master/slave on PostgreSQL, with fencing.
/// <list type="bullet">
/// <item>The master holds a session-level advisory lock on a dedicated connection. Slaves wait for it
/// <i>in the database</i>, so one gets it the moment PostgreSQL sees the master's session end (a killed
/// process closes its socket at once).</item>
/// <item>The master also holds a lease row (<c>{prefix}broker_lock</c>: epoch, holder, backend pid, expiry on
/// the database's clock), renewed every keep-alive period. If it cannot renew before the lease ends,
/// counted on its own monotonic clock from the start of its last successful renewal, <see cref="Lost"/>
/// completes and the broker stops serving.</item>
/// <item>A waiting slave that finds the lease expired while the holder's session still exists (the master
/// is frozen or cut off but its TCP session lives on) ends every session of that holder with
/// <c>pg_terminate_backend</c> (they carry the holder's name as application_name), takes the advisory
/// lock, and writes epoch + 1.</item>
/// <item>Every store write checks the epoch in the same transaction (Ferry.Store's Postgres adapter), so a
/// stale master never writes after a takeover; the database enforces it, not the stale process's clock.</item>
/// </list>
/// </summary>
public sealed partial class PostgresLock : IBrokerLock
{
    private readonly PostgresLockOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<string> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _connectionString;
    private NpgsqlConnection? _connection;
    private Task? _keepAlive;
    private long _epoch;
    private int _disposed;

    public PostgresLock(PostgresLockOptions options, string brokerName, TimeProvider time, ILogger logger)
    {
        Ferry.Broker.PostgresSettings.ValidateTablePrefix(options.TablePrefix);
        _options = options;
        _time = time;
        _logger = logger;
        LockTable = options.TablePrefix + "broker_lock";
        // application_name holds at most 63 bytes; the random part tells two incarnations apart.
        string name = brokerName.Length > 24 ? brokerName[..24] : brokerName;
        Holder = $"ferry {name} {Environment.ProcessId} {Guid.NewGuid().ToString("N")[..8]}";
        _connectionString = new NpgsqlConnectionStringBuilder(options.ConnectionString)
        {
            ApplicationName = Holder,
            // The lock lives and dies with this one session: never hand it to a pool.
            Pooling = false,
        }.ConnectionString;
    }

    /// <summary>The lease table, for the store's fence.</summary>
    public string LockTable { get; }

    /// <summary>This incarnation's name in the lease row and the application_name of all its sessions.</summary>
    public string Holder { get; }

    public string Description => $"PostgreSQL lock {LockTable}";

    public Task<string> Lost => _lost.Task;

    public long Epoch => Interlocked.Read(ref _epoch);

    public async Task AcquireAsync(CancellationToken cancellationToken)
    {
        bool announced = false;
        bool unreachable = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (_connection is null)
                {
                    var connection = new NpgsqlConnection(_connectionString);
                    await connection.OpenAsync(cancellationToken);
                    _connection = connection;
                    await EnsureTableAsync(cancellationToken);
                    // The advisory-lock wait below gives up after this, so the slave re-checks the lease.
                    await ExecuteAsync($"SET lock_timeout = {(long)_options.LockAcquireSleepInterval.TotalMilliseconds}", cancellationToken);
                    unreachable = false;
                }
                if (await TryTakeLockAsync(cancellationToken))
                {
                    long start = _time.GetTimestamp();
                    var (epoch, previous) = await TakeLeaseAsync(cancellationToken);
                    Interlocked.Exchange(ref _epoch, epoch);
                    LogAcquired(_logger, LockTable, epoch, previous);
                    _keepAlive = Task.Run(() => KeepAliveAsync(start), CancellationToken.None);
                    return;
                }
                if (!announced)
                {
                    announced = true;
                    LogSlave(_logger, LockTable, _options.LockAcquireSleepInterval.TotalMilliseconds);
                }
                await EndExpiredHolderAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                if (!unreachable)
                {
                    unreachable = true;
                    LogUnreachable(_logger, LockTable, ex.Message, _options.LockAcquireSleepInterval.TotalMilliseconds);
                }
                await CloseConnectionAsync();
                await Task.Delay(_options.LockAcquireSleepInterval, _time, cancellationToken);
            }
        }
    }

    private async Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        await using var tx = await _connection!.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock(hashtext('{LockTable} schema'));
            CREATE TABLE IF NOT EXISTS {LockTable} (
                id int PRIMARY KEY CHECK (id = 1),
                epoch bigint NOT NULL,
                holder text NOT NULL,
                pid int NOT NULL,
                acquired_at timestamptz NOT NULL,
                expires timestamptz NOT NULL);
            INSERT INTO {LockTable} VALUES (1, 0, '', 0, '-infinity', '-infinity') ON CONFLICT (id) DO NOTHING;
            """, _connection, tx);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Waits in the database, up to the acquire interval, for the session-level lock.</summary>
    private async Task<bool> TryTakeLockAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync($"SELECT pg_advisory_lock(hashtext('{LockTable}'))", cancellationToken);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return false;
        }
    }

    /// <summary>
    /// Writes epoch + 1 with this session's pid and a fresh lease. The previous holder's sessions are
    /// ended first: a stale one could hold the lease row (a write transaction in flight) and would
    /// otherwise make this wait.
    /// </summary>
    private async Task<(long Epoch, string Previous)> TakeLeaseAsync(CancellationToken cancellationToken)
    {
        await ExecuteAsync("SET lock_timeout = 0", cancellationToken);
        string holder;
        long previousEpoch;
        await using (var read = new NpgsqlCommand($"SELECT holder, epoch FROM {LockTable} WHERE id = 1", _connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            holder = reader.GetString(0);
            previousEpoch = reader.GetInt64(1);
        }
        if (holder.Length > 0)
        {
            await TerminateAsync(holder, cancellationToken);
        }
        string previous = holder.Length > 0 ? $"{holder}, epoch {previousEpoch}" : "none";
        await using var take = new NpgsqlCommand($"""
            UPDATE {LockTable} SET epoch = epoch + 1, holder = @holder, pid = pg_backend_pid(), acquired_at = now(),
                expires = now() + make_interval(secs => @lease) WHERE id = 1 RETURNING epoch
            """, _connection);
        take.Parameters.AddWithValue("holder", Holder);
        take.Parameters.AddWithValue("lease", _options.LeaseDuration.TotalSeconds);
        long epoch = (long)(await take.ExecuteScalarAsync(cancellationToken))!;
        return (epoch, previous);
    }

    /// <summary>If the lease ran out but its holder's session lives on (frozen, cut off), ends that holder's sessions.</summary>
    private async Task EndExpiredHolderAsync(CancellationToken cancellationToken)
    {
        await using var read = new NpgsqlCommand($"SELECT holder, epoch FROM {LockTable} WHERE id = 1 AND expires <= now() AND holder <> ''", _connection);
        string? holder = null;
        long epoch = 0;
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                holder = reader.GetString(0);
                epoch = reader.GetInt64(1);
            }
        }
        if (holder is not null && await TerminateAsync(holder, cancellationToken) > 0)
        {
            LogTerminated(_logger, holder, epoch);
        }
    }

    private async Task<int> TerminateAsync(string holder, CancellationToken cancellationToken)
    {
        await using var terminate = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = @holder AND pid <> pg_backend_pid()", _connection);
        terminate.Parameters.AddWithValue("holder", holder);
        return Convert.ToInt32(await terminate.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Renews the lease every keep-alive period. The lock is lost when a renewal finds a newer holder,
    /// fails (the session is gone), or has not succeeded before the lease would end: that deadline is
    /// counted from the start of the last successful renewal, so it can only err on the early side.
    /// </summary>
    private async Task KeepAliveAsync(long lastSuccessStart)
    {
        var token = _stopping.Token;
        await using var renew = new NpgsqlCommand($"UPDATE {LockTable} SET expires = now() + make_interval(secs => @lease) WHERE id = 1 AND epoch = @epoch AND holder = @holder", _connection);
        renew.Parameters.AddWithValue("lease", _options.LeaseDuration.TotalSeconds);
        renew.Parameters.AddWithValue("epoch", Epoch);
        renew.Parameters.AddWithValue("holder", Holder);
        try
        {
            while (!_lost.Task.IsCompleted)
            {
                var deadline = _time.GetElapsedTime(lastSuccessStart);
                var left = _options.LeaseDuration - deadline;
                var wait = left < _options.LockKeepAlivePeriod ? left : _options.LockKeepAlivePeriod;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, token);
                }
                long start = _time.GetTimestamp();
                left = _options.LeaseDuration - _time.GetElapsedTime(lastSuccessStart);
                if (left <= TimeSpan.Zero)
                {
                    Lose($"the lease was not renewed within {_options.LeaseDuration.TotalMilliseconds:0} ms (this process was stalled)");
                    return;
                }
                var renewal = renew.ExecuteNonQueryAsync(token);
                if (await Task.WhenAny(renewal, Task.Delay(left, _time, token)) != renewal)
                {
                    Lose($"the lease renewal did not complete within the lease ({_options.LeaseDuration.TotalMilliseconds:0} ms): the database is unreachable or the lease row is blocked");
                    return;
                }
                if (await renewal == 0)
                {
                    Lose($"another broker took over the lock {LockTable} (this broker held epoch {Epoch})");
                    return;
                }
                lastSuccessStart = start;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            Lose($"the lock's database session failed: {ex.Message}");
        }
    }

    /// <summary>The store found this broker fenced off (a newer epoch holds the lock).</summary>
    public void Surrender(string reason) => Lose(reason);

    public void CheckFence()
    {
        if (_lost.Task.IsCompleted)
        {
            throw new IOException("this broker lost its lock: " + _lost.Task.Result);
        }
    }

    private void Lose(string reason)
    {
        if (_lost.TrySetResult(reason))
        {
            LogLost(_logger, reason);
        }
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, _connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task CloseConnectionAsync()
    {
        var connection = _connection;
        _connection = null;
        if (connection is not null)
        {
            try
            {
                await connection.DisposeAsync();
            }
            catch (NpgsqlException)
            {
                // Broken already.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        if (_keepAlive is not null)
        {
            await _keepAlive.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        // Closing the session releases the advisory lock: a waiting slave takes over at once.
        await CloseConnectionAsync();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Broker is a slave: the lock {Table} is held by another broker; waiting for it in the database, re-checking its lease every {Interval} ms")]
    private static partial void LogSlave(ILogger logger, string table, double interval);

    [LoggerMessage(EventId = 411, Level = LogLevel.Information, Message = "Broker is the master: acquired the lock {Table} with epoch {Epoch} (previous holder: {Previous})")]
    private static partial void LogAcquired(ILogger logger, string table, long epoch, string previous);

    [LoggerMessage(EventId = 412, Level = LogLevel.Critical, Message = "Lost the broker lock: {Reason}")]
    private static partial void LogLost(ILogger logger, string reason);

    [LoggerMessage(EventId = 413, Level = LogLevel.Warning, Message = "The lease of {Holder} (epoch {Epoch}) expired while its session still held the lock; ended its database sessions to take over")]
    private static partial void LogTerminated(ILogger logger, string holder, long epoch);

    [LoggerMessage(EventId = 414, Level = LogLevel.Warning, Message = "Cannot reach the database for the lock {Table}: {Reason}; retrying every {Interval} ms")]
    private static partial void LogUnreachable(ILogger logger, string table, string reason, double interval);
}
