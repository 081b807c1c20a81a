using Npgsql;

namespace Ferry.Store.Postgres;

/// <summary>
/// The store's tables, created on first start. Creation runs under a transaction-level advisory lock
/// so brokers starting together do not race; the version row says which layout a database holds.
/// </summary>
internal sealed class PostgresSchema
{
    /// <summary>The layout this code reads and writes.</summary>
    public const int Version = 1;

    public PostgresSchema(string prefix)
    {
        Ferry.Broker.PostgresSettings.ValidateTablePrefix(prefix);
        Prefix = prefix;
        Messages = prefix + "messages";
        PendingAcks = prefix + "pending_acks";
        Subscriptions = prefix + "subscriptions";
        ProducerSequences = prefix + "producer_sequences";
        SchemaVersion = prefix + "schema_version";
        CheckEpoch = prefix + "check_epoch";
    }

    public string Prefix { get; }
    public string Messages { get; }
    public string PendingAcks { get; }
    public string Subscriptions { get; }
    public string ProducerSequences { get; }
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
        if (stored is null)
        {
            await using var insert = new NpgsqlCommand($"INSERT INTO {SchemaVersion} (version) VALUES ({Version})", connection, tx);
            await insert.ExecuteNonQueryAsync(cancellationToken);
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

    /// <summary>The SQLSTATE a write from a stale epoch fails with.</summary>
    public const string FencedSqlState = "FE001";
}
