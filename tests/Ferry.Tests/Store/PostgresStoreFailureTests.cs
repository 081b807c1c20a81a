using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Store.Postgres;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Ferry.Tests.Store;

/// <summary>
/// A write PostgreSQL refuses, made real with a trigger on the messages table that raises for one
/// destination: a sync send is told and the store goes on; an async send (deferred, nobody waits)
/// that cannot be stored stops the store, so no later write pretends all is well.
/// </summary>
public sealed class PostgresStoreFailureTests : IAsyncLifetime
{
    private static readonly ProducerId Producer = new("ID:failure-test", 1, 1);
    private readonly string _prefix = PostgresServer.NewTablePrefix();
    private PostgresPersistenceAdapter _store = null!;
    private long _sequence;

    public async Task InitializeAsync()
    {
        _store = Open();
        await _store.RecoverAsync(CancellationToken.None);
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var trigger = new NpgsqlCommand($"""
            CREATE FUNCTION {_prefix}poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.destination LIKE '%poison%' THEN
                    RAISE EXCEPTION 'refused by the test trigger';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER {_prefix}poison BEFORE INSERT ON {_prefix}messages FOR EACH ROW EXECUTE FUNCTION {_prefix}poison();
            """, connection);
        await trigger.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private PostgresPersistenceAdapter Open() =>
        new(new PostgresStoreOptions { ConnectionString = PostgresServer.ConnectionString, TablePrefix = _prefix }, NullLogger.Instance);

    private StoreBatch Add(string queue, StoreDurability durability)
    {
        var message = OpenWireTestClient.TextMessage(Producer, ++_sequence, Destination.Queue(queue), "m" + _sequence);
        message.Persistent = true;
        return new StoreBatch(new AddMessage(message), durability);
    }

    [Fact]
    public async Task A_refused_sync_send_fails_alone_and_the_store_goes_on()
    {
        await _store.StoreAsync(Add("fine", StoreDurability.Sync), CancellationToken.None);
        var refused = await Assert.ThrowsAsync<IOException>(() => _store.StoreAsync(Add("poison", StoreDurability.Sync), CancellationToken.None).AsTask());
        Assert.Contains("refused by the test trigger", refused.Message, StringComparison.Ordinal);
        await _store.StoreAsync(Add("fine", StoreDurability.Sync), CancellationToken.None);

        await _store.DisposeAsync();
        _store = Open();
        var recovered = await _store.RecoverAsync(CancellationToken.None);
        Assert.Equal(["m1", "m3"], recovered.Messages.Select(m => OpenWireTestClient.TextOf(m.Message)));
    }

    [Fact]
    public async Task A_refused_async_send_stops_the_store()
    {
        await _store.StoreAsync(Add("fine", StoreDurability.Sync), CancellationToken.None);
        // Several in flight at once, so the refused one may share a transaction with good ones.
        var sends = new List<Task>();
        for (int i = 0; i < 5; i++)
        {
            sends.Add(_store.StoreAsync(Add(i == 2 ? "poison" : "fine", StoreDurability.Deferred), CancellationToken.None).AsTask());
        }
        await Task.WhenAll(sends);

        // The deferred write fails in the background; from then on every write fails with the reason.
        IOException? stopped = null;
        await WaitFor.ConditionAsync(async () =>
        {
            try
            {
                await _store.StoreAsync(Add("fine", StoreDurability.Sync), CancellationToken.None);
                return false;
            }
            catch (IOException ex)
            {
                stopped = ex;
                return true;
            }
        }, TimeSpan.FromSeconds(20), "a write refused after the async send failed");
        Assert.Contains("an async send could not be stored", stopped!.Message, StringComparison.Ordinal);
        Assert.Contains("refused by the test trigger", stopped.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<IOException>(() => _store.StoreAsync(Add("fine", StoreDurability.Sync), CancellationToken.None).AsTask());

        await _store.DisposeAsync();
        _store = Open();
        var recovered = await _store.RecoverAsync(CancellationToken.None);
        Assert.DoesNotContain(recovered.Messages, m => m.Message.Destination!.Name == "poison");
        Assert.Contains(recovered.Messages, m => OpenWireTestClient.TextOf(m.Message) == "m1");
    }
}
