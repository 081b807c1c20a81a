using Ferry.Broker;
using Ferry.Broker.Clustering;
using Ferry.Broker.Storage;
using Ferry.Ha.Locks;
using Ferry.Store.IO;
using Ferry.Store.Journal;
using Ferry.Store.Memory;
using Ferry.Store.Postgres;
using Microsoft.Extensions.Logging;

namespace Ferry.Host;

/// <summary>Builds the broker lock and the store the configuration asks for; they come in matching pairs.</summary>
internal static class Persistence
{
    public static IBrokerLock CreateLock(BrokerOptions options, ILoggerFactory loggerFactory) => options.EffectiveLocker switch
    {
        "postgres" => new PostgresLock(
            new PostgresLockOptions
            {
                ConnectionString = options.Postgres.ConnectionString,
                TablePrefix = options.Postgres.TablePrefix,
                LockAcquireSleepInterval = TimeSpan.FromMilliseconds(options.LockAcquireSleepInterval),
                LockKeepAlivePeriod = TimeSpan.FromMilliseconds(options.LockKeepAlivePeriod),
                LeaseDuration = TimeSpan.FromMilliseconds(options.LockLeaseDuration),
            },
            options.BrokerName, TimeProvider.System, loggerFactory.CreateLogger("Ferry.Ha")),
        _ => new SharedDirectoryLock(options.DataDirectory, options.BrokerName,
            new SharedDirectoryLockOptions
            {
                LockAcquireSleepInterval = TimeSpan.FromMilliseconds(options.LockAcquireSleepInterval),
                LockKeepAlivePeriod = TimeSpan.FromMilliseconds(options.LockKeepAlivePeriod),
                LeaseDuration = TimeSpan.FromMilliseconds(options.LockLeaseDuration),
            },
            TimeProvider.System, loggerFactory.CreateLogger("Ferry.Ha")),
    };

    public static IPersistenceAdapter CreateStore(BrokerOptions options, ILoggerFactory loggerFactory, IBrokerLock brokerLock)
    {
        if (!options.Persistent)
        {
            return new MemoryPersistenceAdapter();
        }
        if (options.PersistenceAdapter == "postgres")
        {
            var pgLock = (PostgresLock)brokerLock;
            return new PostgresPersistenceAdapter(
                new PostgresStoreOptions
                {
                    ConnectionString = options.Postgres.ConnectionString,
                    TablePrefix = options.Postgres.TablePrefix,
                    MaxProducersToAudit = options.Postgres.MaxProducersToAudit,
                    FenceTable = pgLock.LockTable,
                    FenceEpoch = () => pgLock.Epoch,
                    CheckFence = pgLock.CheckFence,
                    // Refused by the database: a newer master holds the lock, so this one stops serving.
                    Fenced = pgLock.Surrender,
                    ApplicationName = pgLock.Holder,
                },
                loggerFactory.CreateLogger("Ferry.Store.Postgres"));
        }
        return new JournalPersistenceAdapter(
            new JournalOptions
            {
                Directory = Path.Combine(options.DataDirectory, "journal"),
                SegmentSize = options.Journal.SegmentSize,
                PreallocationBytes = options.Journal.PreallocationBytes,
                SyncPolicy = options.Journal.SyncPolicy == "never" ? JournalSyncPolicy.Never : JournalSyncPolicy.Always,
                // A master that lost its lock (a newer epoch took over) must not write another byte.
                WriteFence = brokerLock.CheckFence,
            },
            PhysicalFileSystem.Instance,
            loggerFactory.CreateLogger("Ferry.Store.Journal"));
    }
}
