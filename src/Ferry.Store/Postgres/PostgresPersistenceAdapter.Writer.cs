using Ferry.Broker.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Ferry.Store.Postgres;

/// <summary>
/// Group commit: one writer loop takes every batch queued while the previous transaction committed
/// and writes them all in one transaction (runs of adds and removals as single multi-row statements,
/// sent together as one <see cref="NpgsqlBatch"/>). A batch's task completes only after the commit.
/// </summary>
public sealed partial class PostgresPersistenceAdapter
{
    private long _transactions;
    private long _batchesWritten;
    private volatile Exception? _failure;

    private async Task WriteLoopAsync()
    {
        var group = new List<PendingBatch>();
        NpgsqlConnection? connection = null;
        long lastSizeRefresh = Environment.TickCount64;
        // Recovery has just pruned; from then on every interval, between groups on the writer's own session,
        // so a prune never contends for row locks with a group's upserts.
        long lastPrune = Environment.TickCount64;
        long pruneEvery = (long)_options.ProducerPruneInterval.TotalMilliseconds;
        var token = _stopping.Token;
        try
        {
            while (await _queue.Reader.WaitToReadAsync(token))
            {
                group.Clear();
                while (group.Count < _options.MaxBatchesPerTransaction && _queue.Reader.TryRead(out var pending))
                {
                    group.Add(pending);
                }
                if (_failure is { } failure)
                {
                    Fail(group, failure);
                    continue;
                }
                try
                {
                    connection ??= await _dataSource.OpenConnectionAsync(token);
                    try
                    {
                        await WriteGroupAsync(connection, group, token);
                    }
                    catch (Exception ex) when (connection.FullState.HasFlag(System.Data.ConnectionState.Broken) || ex is PostgresException { SqlState: "57P01" })
                    {
                        // The session died (e.g. ended by the database) before the commit was seen: try once on a
                        // new one. Replaying is safe: adds skip existing ids, removals and acks are idempotent.
                        await DisposeQuietlyAsync(connection);
                        connection = null;
                        connection = await _dataSource.OpenConnectionAsync(token);
                        await WriteGroupAsync(connection, group, token);
                    }
                    Complete(group);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresSchema.FencedSqlState)
                {
                    FailStop(ex.MessageText);
                    Fail(group, _failure!);
                }
                catch (PostgresException ex) when (group.Count > 1 && connection is not null && !IsConnectionLost(ex))
                {
                    // One bad batch must not fail the others that shared its transaction: write them one by one.
                    await WriteOneByOneAsync(connection, group, token);
                }
                catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
                {
                    PostgresStoreLog.WriteFailed(_logger, Description, group.Count, ex);
                    Fail(group, new IOException("the PostgreSQL store write failed: " + ex.Message, ex));
                    // The next group starts on a fresh session.
                    await DisposeQuietlyAsync(connection);
                    connection = null;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Anything else is a state nobody planned for: stop the store with the reason rather than let
                    // the writer die and every later write wait forever.
                    PostgresStoreLog.WriteFailed(_logger, Description, group.Count, ex);
                    _failure ??= new IOException("the PostgreSQL store stopped after an unexpected failure: " + ex.Message, ex);
                    Fail(group, _failure);
                    await DisposeQuietlyAsync(connection);
                    connection = null;
                }
                if (connection is not null && Environment.TickCount64 - lastSizeRefresh > 5000)
                {
                    lastSizeRefresh = Environment.TickCount64;
                    try
                    {
                        await RefreshUsedBytesAsync(connection, token);
                    }
                    catch (NpgsqlException)
                    {
                        // Only an estimate; the next write finds out whether the session is still good.
                    }
                }
                if (connection is not null && _failure is null && Environment.TickCount64 - lastPrune >= pruneEvery)
                {
                    lastPrune = Environment.TickCount64;
                    try
                    {
                        await PruneProducersAsync(connection, token);
                    }
                    catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
                    {
                        // The table only grows a little until the next interval; the next group starts on a fresh session.
                        PostgresStoreLog.PruneFailed(_logger, Description, ex);
                        await DisposeQuietlyAsync(connection);
                        connection = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            Fail(group, new IOException("the PostgreSQL store was closed"));
            while (_queue.Reader.TryRead(out var pending))
            {
                pending.Done?.TrySetException(new IOException("the PostgreSQL store was closed"));
            }
        }
        finally
        {
            await DisposeQuietlyAsync(connection);
        }
    }

    private async Task WriteOneByOneAsync(NpgsqlConnection connection, List<PendingBatch> group, CancellationToken token)
    {
        foreach (var pending in group)
        {
            try
            {
                await WriteGroupAsync(connection, [pending], token);
                Complete([pending]);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresSchema.FencedSqlState)
            {
                FailStop(ex.MessageText);
                FailOne(pending, _failure!);
            }
            catch (PostgresException ex)
            {
                PostgresStoreLog.WriteFailed(_logger, Description, 1, ex);
                FailOne(pending, new IOException("the PostgreSQL store refused the write: " + ex.MessageText, ex));
            }
            catch (NpgsqlException ex)
            {
                PostgresStoreLog.WriteFailed(_logger, Description, 1, ex);
                FailOne(pending, new IOException("the PostgreSQL store write failed: " + ex.Message, ex));
            }
        }
    }

    private static bool IsConnectionLost(PostgresException ex) => ex.SqlState.StartsWith("08", StringComparison.Ordinal) || ex.SqlState.StartsWith("57", StringComparison.Ordinal);

    private void FailStop(string reason)
    {
        if (_failure is null)
        {
            _failure = new IOException("this broker is fenced off: " + reason);
            PostgresStoreLog.FailStopped(_logger, Description, reason);
            _options.Fenced?.Invoke(reason);
        }
    }

    private void Complete(List<PendingBatch> group)
    {
        Interlocked.Increment(ref _transactions);
        Interlocked.Add(ref _batchesWritten, group.Count);
        foreach (var pending in group)
        {
            pending.Done?.TrySetResult();
        }
    }

    private void Fail(List<PendingBatch> group, Exception failure)
    {
        foreach (var pending in group)
        {
            FailOne(pending, failure);
        }
    }

    /// <summary>
    /// Fails one batch. A deferred batch has nobody to tell; if it stored a message (an async send, already
    /// dispatched from memory), the store stops: every later write fails with the reason instead of the broker
    /// carrying on as if the message were stored.
    /// </summary>
    private void FailOne(PendingBatch pending, Exception failure)
    {
        if (pending.Done is { } done)
        {
            done.TrySetException(failure);
        }
        else if (_failure is null && pending.Batch.Operations.Exists(static o => o is AddMessage))
        {
            _failure = new IOException("an async send could not be stored: " + failure.Message, failure);
            PostgresStoreLog.FailStopped(_logger, Description, _failure.Message);
        }
    }

    private static async Task DisposeQuietlyAsync(NpgsqlConnection? connection)
    {
        if (connection is not null)
        {
            try
            {
                await connection.DisposeAsync();
            }
            catch (NpgsqlException)
            {
                // Already broken: nothing to close.
            }
        }
    }

    private async Task WriteGroupAsync(NpgsqlConnection connection, List<PendingBatch> group, CancellationToken token)
    {
        _options.CheckFence?.Invoke();
        await using var tx = await connection.BeginTransactionAsync(token);
        await using var batch = new NpgsqlBatch(connection, tx);
        AddFence(batch);
        var statements = new StatementBuilder(_schema, _options.FenceTable is null ? 0 : _options.FenceEpoch(), batch);
        foreach (var pending in group)
        {
            foreach (var operation in pending.Batch.Operations)
            {
                statements.Add(operation);
            }
        }
        statements.Finish();
        await ExecuteFencedAsync(batch, token);
        await tx.CommitAsync(token);
    }

    /// <summary>
    /// One prune in a transaction of its own, fenced like a write: a master that lost its lock deletes
    /// nothing, and learns here that it is fenced off just as a write would tell it.
    /// </summary>
    private async Task<int> PruneProducersAsync(NpgsqlConnection connection, CancellationToken token)
    {
        _options.CheckFence?.Invoke();
        await using var tx = await connection.BeginTransactionAsync(token);
        await using var batch = new NpgsqlBatch(connection, tx);
        AddFence(batch);
        var prune = PruneProducersCommand();
        batch.BatchCommands.Add(prune);
        try
        {
            await batch.ExecuteNonQueryAsync(token);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresSchema.FencedSqlState)
        {
            FailStop(ex.MessageText);
            return 0;
        }
        await tx.CommitAsync(token);
        if (prune.RecordsAffected > 0)
        {
            PostgresStoreLog.ProducersPruned(_logger, Description, prune.RecordsAffected, _options.MaxProducersToAudit);
        }
        return prune.RecordsAffected;
    }

    /// <summary>Puts the epoch check first in a write transaction (nothing to do for an unfenced store).</summary>
    private void AddFence(NpgsqlBatch batch)
    {
        if (_options.FenceTable is not null)
        {
            var fence = new NpgsqlBatchCommand($"SELECT {_schema.CheckEpoch}(@epoch)");
            fence.Parameters.AddWithValue("epoch", _options.FenceEpoch());
            batch.BatchCommands.Add(fence);
        }
    }

    private static async Task ExecuteFencedAsync(NpgsqlBatch batch, CancellationToken token)
    {
        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(token);
        }
    }

    /// <summary>
    /// Turns store operations, in order, into statements: consecutive operations of one kind become one
    /// multi-row statement over arrays (they commute), anything else one statement each.
    /// </summary>
    private sealed class StatementBuilder(PostgresSchema schema, long epoch, NpgsqlBatch batch)
    {
        private enum Run { None, Adds, QueueRemovals, SubscriptionRemovals }

        private Run _run;
        private readonly List<string> _destinations = [];
        private readonly List<string> _messageIds = [];
        private readonly List<bool> _isTopic = [];
        private readonly List<byte[]> _bodies = [];
        private readonly List<string> _ackDestinations = [];
        private readonly List<string> _ackMessageIds = [];
        private readonly List<long> _ackSubscriptions = [];
        private readonly Dictionary<string, long> _producers = new(StringComparer.Ordinal);

        public void Add(StoreOperation operation)
        {
            switch (operation)
            {
                case AddMessage add:
                    {
                        Begin(Run.Adds);
                        var message = add.Message;
                        string destination = message.Destination!.QualifiedName;
                        string id = message.MessageId!.ToString();
                        _destinations.Add(destination);
                        _messageIds.Add(id);
                        _isTopic.Add(message.Destination.IsTopic);
                        _bodies.Add(MessageMarshaller.Marshal(message));
                        foreach (long subscription in add.Subscriptions ?? [])
                        {
                            _ackDestinations.Add(destination);
                            _ackMessageIds.Add(id);
                            _ackSubscriptions.Add(subscription);
                        }
                        if (message.MessageId.ProducerId is { } producer)
                        {
                            string p = producer.ToString();
                            _producers[p] = Math.Max(_producers.GetValueOrDefault(p), message.MessageId.ProducerSequenceId);
                        }
                        break;
                    }
                case RemoveMessage { SubscriptionId: null } remove:
                    Begin(Run.QueueRemovals);
                    _destinations.Add(remove.Destination.QualifiedName);
                    _messageIds.Add(remove.MessageId.ToString());
                    break;
                case RemoveMessage { SubscriptionId: { } subscription } remove:
                    Begin(Run.SubscriptionRemovals);
                    _ackDestinations.Add(remove.Destination.QualifiedName);
                    _ackMessageIds.Add(remove.MessageId.ToString());
                    _ackSubscriptions.Add(subscription);
                    break;
                case AddDurableSubscription { Subscription: var info }:
                    {
                        Begin(Run.None);
                        var command = Command($"""
                            INSERT INTO {schema.Subscriptions} (id, client_id, name, destination_kind, destination, selector, no_local, epoch)
                            VALUES (@id, @client, @name, @kind, @destination, @selector, @noLocal, @epoch)
                            ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, name = excluded.name, destination_kind = excluded.destination_kind,
                                destination = excluded.destination, selector = excluded.selector, no_local = excluded.no_local, epoch = excluded.epoch
                            """);
                        command.Parameters.AddWithValue("id", info.Id);
                        command.Parameters.AddWithValue("client", info.ClientId);
                        command.Parameters.AddWithValue("name", info.Name);
                        command.Parameters.AddWithValue("kind", (short)info.Destination.Kind);
                        command.Parameters.AddWithValue("destination", info.Destination.Name);
                        command.Parameters.Add(new NpgsqlParameter<string?>("selector", NpgsqlDbType.Text) { TypedValue = info.Selector });
                        command.Parameters.AddWithValue("noLocal", info.NoLocal);
                        break;
                    }
                case RemoveDurableSubscription { SubscriptionId: var id }:
                    {
                        Begin(Run.None);
                        // Messages only this subscription still waited for go with it.
                        Command($"""
                            DELETE FROM {schema.Messages} m WHERE EXISTS (SELECT 1 FROM {schema.PendingAcks} a WHERE a.seq = m.seq AND a.subscription_id = @id)
                              AND NOT EXISTS (SELECT 1 FROM {schema.PendingAcks} a WHERE a.seq = m.seq AND a.subscription_id <> @id)
                            """).Parameters.AddWithValue("id", id);
                        Command($"DELETE FROM {schema.PendingAcks} WHERE subscription_id = @id").Parameters.AddWithValue("id", id);
                        Command($"DELETE FROM {schema.Subscriptions} WHERE id = @id").Parameters.AddWithValue("id", id);
                        break;
                    }
                default:
                    throw new ArgumentException($"Unknown store operation {operation.GetType().Name}", nameof(operation));
            }
        }

        public void Finish()
        {
            Begin(Run.None);
            if (_producers.Count > 0)
            {
                // A fresh write_order on every write marks the row as recent: pruning keeps the highest.
                var command = Command($"""
                    INSERT INTO {schema.ProducerSequences} (producer_id, sequence, epoch, write_order)
                    SELECT p, s, @epoch, nextval('{schema.ProducerWriteOrder}') FROM unnest(@producers, @sequences) AS u(p, s)
                    ON CONFLICT (producer_id) DO UPDATE SET sequence = GREATEST({schema.ProducerSequences}.sequence, excluded.sequence), epoch = excluded.epoch,
                        write_order = excluded.write_order
                    """);
                command.Parameters.AddWithValue("producers", _producers.Keys.ToArray());
                command.Parameters.AddWithValue("sequences", _producers.Values.ToArray());
                _producers.Clear();
            }
        }

        /// <summary>Ends the current run (writing its statement) if the next operation is of another kind.</summary>
        private void Begin(Run next)
        {
            if (next == _run && next != Run.None)
            {
                return;
            }
            switch (_run)
            {
                case Run.Adds:
                    {
                        var insert = Command($"""
                            INSERT INTO {schema.Messages} (destination, message_id, is_topic, body, epoch)
                            SELECT d, m, t, b, @epoch FROM unnest(@destinations, @ids, @topics, @bodies) WITH ORDINALITY AS u(d, m, t, b, n) ORDER BY n
                            ON CONFLICT (destination, message_id) DO NOTHING
                            """);
                        insert.Parameters.AddWithValue("destinations", _destinations.ToArray());
                        insert.Parameters.AddWithValue("ids", _messageIds.ToArray());
                        insert.Parameters.AddWithValue("topics", _isTopic.ToArray());
                        insert.Parameters.Add(new NpgsqlParameter("bodies", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = _bodies.ToArray() });
                        if (_ackSubscriptions.Count > 0)
                        {
                            var acks = Command($"""
                                INSERT INTO {schema.PendingAcks} (subscription_id, seq, epoch)
                                SELECT u.s, m.seq, @epoch FROM unnest(@destinations, @ids, @subscriptions) AS u(d, id, s)
                                JOIN {schema.Messages} m ON m.destination = u.d AND m.message_id = u.id
                                ON CONFLICT DO NOTHING
                                """);
                            AddAckArrays(acks);
                        }
                        break;
                    }
                case Run.QueueRemovals:
                    {
                        var delete = Command($"""
                            DELETE FROM {schema.Messages} m USING unnest(@destinations, @ids) AS u(d, id)
                            WHERE m.destination = u.d AND m.message_id = u.id
                            """, withEpoch: false);
                        delete.Parameters.AddWithValue("destinations", _destinations.ToArray());
                        delete.Parameters.AddWithValue("ids", _messageIds.ToArray());
                        break;
                    }
                case Run.SubscriptionRemovals:
                    {
                        AddAckArrays(Command($"""
                            DELETE FROM {schema.PendingAcks} a USING {schema.Messages} m, unnest(@destinations, @ids, @subscriptions) AS u(d, id, s)
                            WHERE m.destination = u.d AND m.message_id = u.id AND a.seq = m.seq AND a.subscription_id = u.s
                            """, withEpoch: false));
                        // A message no subscription waits for any more is consumed.
                        var delete = Command($"""
                            DELETE FROM {schema.Messages} m USING unnest(@destinations, @ids) AS u(d, id)
                            WHERE m.destination = u.d AND m.message_id = u.id
                              AND NOT EXISTS (SELECT 1 FROM {schema.PendingAcks} a WHERE a.seq = m.seq)
                            """, withEpoch: false);
                        delete.Parameters.AddWithValue("destinations", _ackDestinations.ToArray());
                        delete.Parameters.AddWithValue("ids", _ackMessageIds.ToArray());
                        break;
                    }
            }
            _destinations.Clear();
            _messageIds.Clear();
            _isTopic.Clear();
            _bodies.Clear();
            _ackDestinations.Clear();
            _ackMessageIds.Clear();
            _ackSubscriptions.Clear();
            _run = next;
        }

        private void AddAckArrays(NpgsqlBatchCommand command)
        {
            command.Parameters.AddWithValue("destinations", _ackDestinations.ToArray());
            command.Parameters.AddWithValue("ids", _ackMessageIds.ToArray());
            command.Parameters.AddWithValue("subscriptions", _ackSubscriptions.ToArray());
        }

        private NpgsqlBatchCommand Command(string sql, bool withEpoch = true)
        {
            var command = new NpgsqlBatchCommand(sql);
            if (withEpoch && sql.Contains("@epoch", StringComparison.Ordinal))
            {
                command.Parameters.AddWithValue("epoch", epoch);
            }
            batch.BatchCommands.Add(command);
            return command;
        }
    }
}
