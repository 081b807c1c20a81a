using Ferry.Broker.Storage;
using Ferry.Ha.Locks;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Store.Postgres;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Ferry.Tests.Ha;

/// <summary>The PostgreSQL lock and the store's fence, against a real PostgreSQL server.</summary>
public sealed class PostgresLockTests : IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private readonly string _prefix = PostgresServer.NewTablePrefix();
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
    }

    private PostgresLock NewLock(string name, TimeProvider? time = null, int leaseMilliseconds = 10_000)
    {
        var brokerLock = new PostgresLock(new PostgresLockOptions
        {
            ConnectionString = PostgresServer.ConnectionString,
            TablePrefix = _prefix,
            LockAcquireSleepInterval = TimeSpan.FromMilliseconds(100),
            LockKeepAlivePeriod = TimeSpan.FromMilliseconds(200),
            LeaseDuration = TimeSpan.FromMilliseconds(leaseMilliseconds),
        }, name, time ?? TimeProvider.System, NullLogger.Instance);
        _owned.Add(brokerLock);
        return brokerLock;
    }

    private PostgresPersistenceAdapter NewStore(PostgresLock brokerLock, Func<long>? epoch = null, List<string>? fenced = null)
    {
        var store = new PostgresPersistenceAdapter(new PostgresStoreOptions
        {
            ConnectionString = PostgresServer.ConnectionString,
            TablePrefix = _prefix,
            FenceTable = brokerLock.LockTable,
            FenceEpoch = epoch ?? (() => brokerLock.Epoch),
            Fenced = reason => fenced?.Add(reason),
            ApplicationName = brokerLock.Holder,
        }, NullLogger.Instance);
        _owned.Add(store);
        return store;
    }

    private static async Task<T> QueryAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static Message Text(long sequence, string text)
    {
        var message = OpenWireTestClient.TextMessage(new ProducerId("ID:pg-lock", 1, 1), sequence, Destination.Queue("fenced"), text);
        message.Persistent = true;
        return message;
    }

    [Fact]
    public async Task A_slave_waits_in_the_database_and_takes_over_with_a_higher_epoch_when_the_master_session_closes()
    {
        var master = NewLock("a");
        await master.AcquireAsync(CancellationToken.None).WaitAsync(Generous);
        Assert.Equal(1, master.Epoch);

        var slave = NewLock("b");
        var waiting = slave.AcquireAsync(CancellationToken.None);
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted);

        await master.DisposeAsync(); // its session ends: the advisory lock is free at once
        await waiting.WaitAsync(Generous);
        Assert.Equal(2, slave.Epoch);
        Assert.Equal(2L, await QueryAsync<long>($"SELECT epoch FROM {_prefix}broker_lock"));
    }

    [Fact]
    public async Task When_the_master_backend_is_terminated_the_master_loses_the_lock_and_a_slave_takes_over()
    {
        var master = NewLock("a");
        await master.AcquireAsync(CancellationToken.None).WaitAsync(Generous);
        var slaves = new[] { NewLock("b"), NewLock("c") };
        var waiting = slaves.Select(s => s.AcquireAsync(CancellationToken.None)).ToArray();

        await QueryAsync<bool>($"SELECT pg_terminate_backend(pid) FROM {_prefix}broker_lock");
        string reason = await master.Lost.WaitAsync(Generous);
        Assert.Contains("session", reason, StringComparison.Ordinal);

        var first = await Task.WhenAny(waiting).WaitAsync(Generous);
        await first;
        var winner = slaves[Array.IndexOf(waiting, first)];
        Assert.Equal(2, winner.Epoch);
        await Task.Delay(300);
        Assert.Equal(1, waiting.Count(w => w.IsCompleted)); // only one master at a time

        await winner.DisposeAsync();
        var loser = slaves.Single(s => s != winner);
        await waiting[Array.IndexOf(slaves, loser)].WaitAsync(Generous);
        Assert.Equal(3, loser.Epoch);
    }

    [Fact]
    public async Task A_master_whose_renewals_hang_loses_the_lock_within_its_lease()
    {
        var master = NewLock("a", leaseMilliseconds: 1500);
        await master.AcquireAsync(CancellationToken.None).WaitAsync(Generous);

        // Another session holds the lease row: the master's renewals block in the database.
        await using var blocker = new NpgsqlConnection(PostgresServer.ConnectionString);
        await blocker.OpenAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand($"SELECT * FROM {_prefix}broker_lock FOR UPDATE", blocker, tx))
        {
            await hold.ExecuteNonQueryAsync();
        }
        string reason = await master.Lost.WaitAsync(Generous);
        Assert.Contains("did not complete within the lease", reason, StringComparison.Ordinal);
        Assert.Throws<IOException>(master.CheckFence);
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task A_slave_takes_over_from_a_frozen_master_after_its_lease_and_the_stale_master_cannot_write()
    {
        var frozenClock = new FakeTimeProvider(DateTimeOffset.UtcNow); // its renewals never run: it is frozen
        var stale = NewLock("frozen", frozenClock, leaseMilliseconds: 1000);
        await stale.AcquireAsync(CancellationToken.None).WaitAsync(Generous);
        var fenced = new List<string>();
        var staleStore = NewStore(stale, fenced: fenced);
        await staleStore.RecoverAsync(CancellationToken.None);
        await staleStore.StoreAsync(new StoreBatch(new AddMessage(Text(1, "before takeover"))), CancellationToken.None);

        var slave = NewLock("b", leaseMilliseconds: 1000);
        await slave.AcquireAsync(CancellationToken.None).WaitAsync(Generous);
        Assert.Equal(2, slave.Epoch);
        // The slave ended the frozen master's sessions (lock and store) in the database.
        Assert.Equal(0L, await QueryAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{stale.Holder}'"));

        // The stale master wakes up and writes: the database refuses, nothing is stored, and it stays refused.
        var refused = await Assert.ThrowsAsync<IOException>(() => staleStore.StoreAsync(new StoreBatch(new AddMessage(Text(2, "after takeover"))), CancellationToken.None).AsTask());
        Assert.Contains("fenced off", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<IOException>(() => staleStore.StoreAsync(new StoreBatch(new AddMessage(Text(3, "later"))), CancellationToken.None).AsTask());
        Assert.Single(fenced);
        Assert.Equal(1L, await QueryAsync<long>($"SELECT count(*) FROM {_prefix}messages"));

        // The new master recovers what the old one stored and writes with its own epoch.
        var store = NewStore(slave);
        var recovered = await store.RecoverAsync(CancellationToken.None);
        Assert.Equal(["before takeover"], recovered.Messages.Select(m => OpenWireTestClient.TextOf(m.Message)));
        await store.StoreAsync(new StoreBatch(new AddMessage(Text(4, "new master"))), CancellationToken.None);
        Assert.Equal(2L, await QueryAsync<long>($"SELECT max(epoch) FROM {_prefix}messages"));
    }

    [Fact]
    public async Task A_write_with_a_stale_epoch_is_refused_whole()
    {
        var master = NewLock("a");
        await master.AcquireAsync(CancellationToken.None).WaitAsync(Generous);
        var store = NewStore(master, epoch: () => master.Epoch - 1);
        await Assert.ThrowsAsync<IOException>(() => store.RecoverAsync(CancellationToken.None)); // recovery tidies up, so it is fenced too


        var fenced = new List<string>();
        var honest = NewStore(master);
        await honest.RecoverAsync(CancellationToken.None);
        await honest.StoreAsync(new StoreBatch(new AddMessage(Text(1, "current epoch"))), CancellationToken.None);

        // A batch from a stale epoch, even one that also removes what is stored, changes nothing.
        long epoch = master.Epoch;
        var writer = NewStore(master, epoch: () => epoch, fenced: fenced);
        await writer.RecoverAsync(CancellationToken.None);
        epoch--;
        var batch = new StoreBatch();
        batch.Operations.Add(new RemoveMessage(Destination.Queue("fenced"), Text(1, "").MessageId!));
        batch.Operations.Add(new AddMessage(Text(2, "stale epoch")));
        var refused = await Assert.ThrowsAsync<IOException>(() => writer.StoreAsync(batch, CancellationToken.None).AsTask());
        Assert.Contains($"epoch {epoch} is fenced off", refused.Message, StringComparison.Ordinal);
        Assert.Single(fenced);
        Assert.Equal(Text(1, "").MessageId!.ToString(), await QueryAsync<string>($"SELECT string_agg(message_id, ',') FROM {_prefix}messages"));
    }

    [Fact]
    public async Task Concurrent_batches_share_transactions_and_each_completes_only_once_committed()
    {
        var master = NewLock("a");
        await master.AcquireAsync(CancellationToken.None).WaitAsync(Generous);
        var store = NewStore(master);
        await store.RecoverAsync(CancellationToken.None);

        const int batches = 400;
        var writes = Enumerable.Range(1, batches)
            .Select(i => Task.Run(async () =>
            {
                await store.StoreAsync(new StoreBatch(new AddMessage(Text(i, "m" + i))), CancellationToken.None);
                // Completed means committed: another session sees it.
                return await QueryAsync<long>($"SELECT count(*) FROM {_prefix}messages WHERE message_id = '{Text(i, "").MessageId}'");
            }))
            .ToArray();
        var seen = await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(seen, count => Assert.Equal(1, count));
        Assert.Equal(batches, store.BatchesWritten);
        Assert.True(store.Transactions < batches, $"{batches} batches took {store.Transactions} transactions: no group commit");
        Assert.Equal((long)batches, await QueryAsync<long>($"SELECT count(*) FROM {_prefix}messages"));
    }
}
