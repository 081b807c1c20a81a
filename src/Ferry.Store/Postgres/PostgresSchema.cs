using Npgsql;

namespace Ferry.Store.Postgres;

/// <summary>
/// The store's tables, created on first start. Creation runs under a transaction-level advisory lock
/// so brokers starting together do not race; the version row says which layout a database holds.
/// Every database, new or old, is created in the version 1 layout and then taken through each
/// migration in turn, in the same transaction, so a half-migrated database is never seen.
/// </summary>
internal sealed class PostgresSchema
{
    /// <summary>The layout this code reads and writes.</summary>
    public const int Version = 2;

    public PostgresSchema(string prefix)
    {
        Ferry.Broker.PostgresSettings.ValidateTablePrefix(prefix);
        Prefix = prefix;
        Messages = prefix + "messages";
        PendingAcks = prefix + "pending_acks";
        Subscriptions = prefix + "subscriptions";
        ProducerSequences = prefix + "producer_sequences";
        ProducerWriteOrder = prefix + "producer_write_order";
        SchemaVersion = prefix + "schema_version";
        CheckEpoch = prefix + "check_epoch";
    }

    public string Prefix { get; }
    public string Messages { get; }
    public string PendingAcks { get; }
    public string Subscriptions { get; }
    public string ProducerSequences { get; }

    /// <summary>The sequence numbering producer_sequences writes, newest highest (version 2 on).</summary>
    public string ProducerWriteOrder { get; }
    public string SchemaVersion { get; }
    public string CheckEpoch { get; }

    public async Task EnsureAsync(NpgsqlConnection connection, string? fenceTable, CancellationToken cancellationToken)
    {
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var guard = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext(@name))", connection, tx))
        {
            guard.Parameters.AddWithValue("name", SchemaVersion);
            await guard.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var create = new NpgsqlCommand($"""
            CREATE TABLE IF NOT EXISTS {SchemaVersion} (version int NOT NULL);
            CREATE TABLE IF NOT EXISTS {Messages} (
                seq bigserial PRIMARY KEY,
                destination text NOT NULL,
                message_id text NOT NULL,
                is_topic boolean NOT NULL,
                body bytea NOT NULL,
                epoch bigint NOT NULL,
                written_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (destination, message_id));
            CREATE TABLE IF NOT EXISTS {PendingAcks} (
                subscription_id bigint NOT NULL,
                seq bigint NOT NULL REFERENCES {Messages} (seq) ON DELETE CASCADE,
                epoch bigint NOT NULL,
                written_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (subscription_id, seq));
            CREATE INDEX IF NOT EXISTS {PendingAcks}_seq ON {PendingAcks} (seq);
            CREATE TABLE IF NOT EXISTS {Subscriptions} (
                id bigint PRIMARY KEY,
                client_id text NOT NULL,
                name text NOT NULL,
                destination_kind smallint NOT NULL,
                destination text NOT NULL,
                selector text,
                no_local boolean NOT NULL,
                epoch bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {ProducerSequences} (
                producer_id text PRIMARY KEY,
                sequence bigint NOT NULL,
                epoch bigint NOT NULL);
            """, connection, tx))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        int? stored;
        await using (var read = new NpgsqlCommand($"SELECT max(version) FROM {SchemaVersion}", connection, tx))
        {
            stored = await read.ExecuteScalarAsync(cancellationToken) is int v ? v : null;
        }
        if (stored > Version)
        {
            throw new InvalidDataException($"the PostgreSQL store {Prefix}* has schema version {stored}; this Ferry knows version {Version} only");
        }
        if (stored != Version)
        {
            for (int version = (stored ?? 1) + 1; version <= Version; version++)
            {
                await using var migrate = new NpgsqlCommand(Migration(version), connection, tx);
                await migrate.ExecuteNonQueryAsync(cancellationToken);
            }
            await using var record = new NpgsqlCommand(
                stored is null ? $"INSERT INTO {SchemaVersion} (version) VALUES ({Version})" : $"UPDATE {SchemaVersion} SET version = {Version}",
                connection, tx);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }
        if (fenceTable is not null)
        {
            // The fence runs inside each write transaction and keeps a share lock on the lease row until
            // commit, so a new master's epoch update waits for it, and every later write sees the new epoch.
            await using var fence = new NpgsqlCommand($"""
                CREATE OR REPLACE FUNCTION {CheckEpoch}(mine bigint) RETURNS void LANGUAGE plpgsql AS $$
                DECLARE current bigint;
                BEGIN
                    SELECT epoch INTO current FROM {fenceTable} WHERE id = 1 FOR SHARE;
                    IF current IS DISTINCT FROM mine THEN
                        RAISE EXCEPTION 'broker epoch % is fenced off: the lock holds epoch %', mine, current USING ERRCODE = '{FencedSqlState}';
                    END IF;
                END $$;
                """, connection, tx);
            await fence.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// What takes the layout of <paramref name="version"/> - 1 to <paramref name="version"/>. Each is
    /// idempotent on its own (IF NOT EXISTS, only rows not yet done), should one ever run twice.
    /// </summary>
    private string Migration(int version) => version switch
    {
        // Recency per producer row, so the table can keep only the producers written to last. Rows from
        // before have none: numbered by epoch (a later master wrote them later), ties in any order. The
        // default numbers inserts by brokers of version 1 still running during an upgrade.
        2 => $"""
            CREATE SEQUENCE IF NOT EXISTS {ProducerWriteOrder};
            ALTER TABLE {ProducerSequences} ADD COLUMN IF NOT EXISTS write_order bigint;
            UPDATE {ProducerSequences} p SET write_order = o.n
              FROM (SELECT producer_id, nextval('{ProducerWriteOrder}') AS n
                    FROM (SELECT producer_id FROM {ProducerSequences} WHERE write_order IS NULL ORDER BY epoch, producer_id) unnumbered) o
             WHERE p.producer_id = o.producer_id;
            ALTER TABLE {ProducerSequences} ALTER COLUMN write_order SET DEFAULT nextval('{ProducerWriteOrder}'), ALTER COLUMN write_order SET NOT NULL;
            ALTER SEQUENCE {ProducerWriteOrder} OWNED BY {ProducerSequences}.write_order;
            """,
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "no migration to this schema version"),
    };

    /// <summary>The SQLSTATE a write from a stale epoch fails with.</summary>
    public const string FencedSqlState = "FE001";
}
