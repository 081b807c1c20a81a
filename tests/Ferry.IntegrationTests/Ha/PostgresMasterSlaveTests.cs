using Ferry.TestKit;
using Npgsql;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Ha;

/// <summary>
/// Master/slave on PostgreSQL (the PostgreSQL store and lock), with real processes: each broker has its
/// own data directory; they share the database's tables (a table prefix of this test's own).
/// </summary>
public sealed class PostgresMasterSlaveTests(ITestOutputHelper output)
{
    private readonly string _prefix = PostgresServer.NewTablePrefix();

    private async Task<string> ConfigAsync(string timings = "")
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("ferry-pg-config-").FullName, "broker.json");
        await File.WriteAllTextAsync(path, $$"""
            {
              "PersistenceAdapter": "postgres",
              "Postgres": { "ConnectionString": "{{PostgresServer.ConnectionString}}", "TablePrefix": "{{_prefix}}" }{{timings}}
            }
            """);
        return path;
    }

    [Fact]
    public async Task A_slave_takes_over_when_the_master_is_killed_and_no_acknowledged_message_is_lost()
    {
        string config = await ConfigAsync();
        await MasterSlaveScenario.RunAsync(output, (i, port) => BrokerProcess.Launch(["--bind", $"tcp://127.0.0.1:{port}", "--config", config, "--broker-name", "pg" + i]));
        Assert.Equal(2L, await QueryAsync<long>($"SELECT epoch FROM {_prefix}broker_lock"));
    }

    [Fact]
    public async Task A_master_frozen_past_its_lease_is_fenced_off_by_the_database_when_it_resumes()
    {
        string config = await ConfigAsync(""", "LockAcquireSleepInterval": 200, "LockKeepAlivePeriod": 500, "LockLeaseDuration": 2000""");
        await SplitBrainTests.RunAsync(output, port => BrokerProcess.Launch(["--bind", $"tcp://127.0.0.1:{port}", "--config", config]), "ended its database sessions");

        // Nothing the old master (epoch 1) tried after the takeover reached the store.
        Assert.Equal(2L, await QueryAsync<long>($"SELECT epoch FROM {_prefix}broker_lock"));
        foreach (string table in new[] { "messages", "pending_acks" })
        {
            Assert.Equal(0L, await QueryAsync<long>($"SELECT count(*) FROM {_prefix}{table} WHERE epoch < 2 AND written_at >= (SELECT acquired_at FROM {_prefix}broker_lock)"));
        }
        // The stale send (producer sequence 1000) would have raised its producer's stored sequence.
        Assert.Equal(0L, await QueryAsync<long>($"SELECT count(*) FROM {_prefix}producer_sequences WHERE sequence >= 1000"));
        Assert.Equal(0L, await QueryAsync<long>($"SELECT count(*) FROM {_prefix}messages"));
    }

    private static async Task<T> QueryAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
