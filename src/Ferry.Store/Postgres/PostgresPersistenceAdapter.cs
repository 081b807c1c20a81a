using System.Threading.Channels;
using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire.Commands;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Ferry.Store.Postgres;

/// <summary>
/// The broker's store in PostgreSQL tables: messages (marshalled, in arrival order), the durable
/// subscriptions each topic message still waits for, durable subscriptions, and the highest
/// sequence per producer for the duplicate audit. Writes go through one writer loop with group
/// commit (see the Writer part); with a fence table, every write transaction proves in the
/// database that this broker's epoch still holds the lock.
/// </summary>
public sealed partial class PostgresPersistenceAdapter : IPersistenceAdapter
{
    private readonly PostgresStoreOptions _options;
    private readonly PostgresSchema _schema;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;
    private readonly Channel<PendingBatch> _queue = Channel.CreateUnbounded<PendingBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task? _writer;
    private long _usedBytes;

    public PostgresPersistenceAdapter(PostgresStoreOptions options, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxProducersToAudit);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ProducerPruneInterval, TimeSpan.Zero);
        _options = options;
        _schema = new PostgresSchema(options.TablePrefix);
        _logger = logger;
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (options.ApplicationName is not null)
        {
            builder.ApplicationName = options.ApplicationName;
        }
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        Description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}, tables {options.TablePrefix}*";
    }

    public string Description { get; }

    /// <summary>Bytes the message tables occupy in the database (refreshed every few seconds).</summary>
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    /// <summary>Write transactions committed so far (group commit makes this smaller than the batches written).</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Batches written so far.</summary>
    public long BatchesWritten => Interlocked.Read(ref _batchesWritten);

    public async Task<RecoveredStore> RecoverAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await _schema.EnsureAsync(connection, _options.FenceTable, cancellationToken);

        await using (var tx = await connection.BeginTransactionAsync(cancellationToken))
        {
            // Acks for subscriptions that are gone, and topic messages nobody waits for any more, are dead.
            var tidy = new NpgsqlBatch(connection, tx);
            AddFence(tidy);
            tidy.BatchCommands.Add(new($"DELETE FROM {_schema.PendingAcks} a WHERE NOT EXISTS (SELECT 1 FROM {_schema.Subscriptions} s WHERE s.id = a.subscription_id)"));
            tidy.BatchCommands.Add(new($"DELETE FROM {_schema.Messages} m WHERE m.is_topic AND NOT EXISTS (SELECT 1 FROM {_schema.PendingAcks} a WHERE a.seq = m.seq)"));
            // Producers past the bound too: here, before serving, a table left to grow (e.g. by an older Ferry) is cut
            // back at once instead of by the first prune between writes.
            tidy.BatchCommands.Add(PruneProducersCommand());
            await using (tidy)
            {
                try
                {
                    await ExecuteFencedAsync(tidy, cancellationToken);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresSchema.FencedSqlState)
                {
                    throw new IOException("this broker is fenced off: " + ex.MessageText, ex);
                }
            }
            await tx.CommitAsync(cancellationToken);
        }

        var subscriptions = new List<DurableSubscriptionInfo>();
        await using (var read = new NpgsqlCommand($"SELECT id, client_id, name, destination_kind, destination, selector, no_local FROM {_schema.Subscriptions} ORDER BY id", connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                subscriptions.Add(new DurableSubscriptionInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                    new Destination((DestinationKind)reader.GetInt16(3), reader.GetString(4)), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetBoolean(6)));
            }
        }
        var messages = new List<RecoveredMessage>();
        await using (var read = new NpgsqlCommand($"""
            SELECT m.body, coalesce(array_agg(a.subscription_id ORDER BY a.subscription_id) FILTER (WHERE a.subscription_id IS NOT NULL), '{"{}"}')
            FROM {_schema.Messages} m LEFT JOIN {_schema.PendingAcks} a ON a.seq = m.seq
            GROUP BY m.seq ORDER BY m.seq
            """, connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var body = reader.GetFieldValue<byte[]>(0);
                messages.Add(new RecoveredMessage(MessageMarshaller.Unmarshal(body), reader.GetFieldValue<long[]>(1)));
            }
        }
        // Only the producers written to last, oldest first: the audit forgets in the order it was told.
        var producers = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var read = new NpgsqlCommand($"""
            SELECT producer_id, sequence FROM (
                SELECT producer_id, sequence, write_order FROM {_schema.ProducerSequences} ORDER BY write_order DESC LIMIT @keep) newest
            ORDER BY write_order
            """, connection))
        {
            read.Parameters.AddWithValue("keep", _options.MaxProducersToAudit);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                producers[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        await RefreshUsedBytesAsync(connection, cancellationToken);
        PostgresStoreLog.Opened(_logger, Description, messages.Count, subscriptions.Count);
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        return new RecoveredStore(messages, subscriptions, producers);
    }

    public async ValueTask StoreAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        if (_failure is { } failure)
        {
            throw new IOException("the PostgreSQL store stopped: " + failure.Message, failure);
        }
        if (_writer is null)
        {
            throw new InvalidOperationException("the store is not open");
        }
        if (batch.IsEmpty)
        {
            return;
        }
        if (batch.Durability == StoreDurability.Deferred)
        {
            // Acks and async sends: written with the next group. Losing an ack to a crash means a redelivery; an
            // async send whose write fails stops the store (see FailOne), so the loss is never silent.
            if (!_queue.Writer.TryWrite(new PendingBatch(batch, null)))
            {
                throw new ObjectDisposedException(nameof(PostgresPersistenceAdapter));
            }
            return;
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new PendingBatch(batch, done)))
        {
            throw new ObjectDisposedException(nameof(PostgresPersistenceAdapter));
        }
        await done.Task.WaitAsync(cancellationToken);
    }

    private async Task RefreshUsedBytesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var size = new NpgsqlCommand($"SELECT pg_total_relation_size('{_schema.Messages}') + pg_total_relation_size('{_schema.PendingAcks}')", connection);
        Interlocked.Exchange(ref _usedBytes, Convert.ToInt64(await size.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Deletes every producer row but the <see cref="PostgresStoreOptions.MaxProducersToAudit"/> written last.
    /// The table is small (the bound plus what came since the last prune), so a scan beats an index on
    /// write_order, which would cost every upsert its in-place (HOT) update.
    /// </summary>
    private NpgsqlBatchCommand PruneProducersCommand()
    {
        var prune = new NpgsqlBatchCommand($"""
            DELETE FROM {_schema.ProducerSequences}
            WHERE write_order <= (SELECT write_order FROM {_schema.ProducerSequences} ORDER BY write_order DESC OFFSET @keep LIMIT 1)
            """);
        prune.Parameters.AddWithValue("keep", _options.MaxProducersToAudit);
        return prune;
    }

    /// <summary>Prunes producer sequences now, on a session of its own (the writer prunes on its own between groups).</summary>
    internal async Task<int> PruneProducersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await PruneProducersAsync(connection, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            // Let queued writes finish, but never hang shutdown on an unreachable database.
            if (await Task.WhenAny(_writer, Task.Delay(TimeSpan.FromSeconds(10))) != _writer)
            {
                await _stopping.CancelAsync();
            }
            await _writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        _stopping.Dispose();
        await _dataSource.DisposeAsync();
    }

    private sealed record PendingBatch(StoreBatch Batch, TaskCompletionSource? Done);
}

/// <summary>The PostgreSQL store's log messages (event ids 320-329).</summary>
internal static partial class PostgresStoreLog
{
    [LoggerMessage(EventId = 320, Level = LogLevel.Information, Message = "Store {Store} opened: {Messages} message(s), {Subscriptions} durable subscription(s)")]
    public static partial void Opened(ILogger logger, string store, int messages, int subscriptions);

    [LoggerMessage(EventId = 321, Level = LogLevel.Critical, Message = "Store {Store} stopped: {Reason}")]
    public static partial void FailStopped(ILogger logger, string store, string reason);

    [LoggerMessage(EventId = 322, Level = LogLevel.Error, Message = "Store {Store}: a write transaction of {Batches} batch(es) failed; they are refused")]
    public static partial void WriteFailed(ILogger logger, string store, int batches, Exception cause);

    [LoggerMessage(EventId = 323, Level = LogLevel.Debug, Message = "Store {Store}: pruned {Producers} producer sequence(s) beyond the {Kept} written last")]
    public static partial void ProducersPruned(ILogger logger, string store, int producers, int kept);

    [LoggerMessage(EventId = 324, Level = LogLevel.Warning, Message = "Store {Store}: pruning producer sequences failed; tried again later")]
    public static partial void PruneFailed(ILogger logger, string store, Exception cause);
}
