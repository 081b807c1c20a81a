using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ferry.Client;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.ClientFailover;

/// <summary>
/// Application code written with Ferry.Client — plain SendAsync and ReceiveAsync loops, no retries of
/// their own — on a <c>failover:(…)</c> URI, while the <c>ferry broker</c> serving it is killed with
/// SIGKILL and another process takes over the same data directory: either on the same port (a restart)
/// or on the second URI's port (a standby taking over the dead broker's store).
/// </summary>
public sealed class ClientFailoverTests(ITestOutputHelper output)
{
    private const int Messages = 300;
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public Task Producer_and_consumer_ride_through_a_SIGKILL_and_restart_on_the_same_port() => RunAsync(takeOverOnSecondPort: false);

    [Fact]
    public Task Producer_and_consumer_ride_through_a_SIGKILL_and_takeover_on_the_second_port() => RunAsync(takeOverOnSecondPort: true);

    private async Task RunAsync(bool takeOverOnSecondPort)
    {
        string data = Directory.CreateTempSubdirectory("ferry-client-failover-").FullName;
        BrokerProcess? broker = null;
        try
        {
            broker = await BrokerProcess.StartOnAsync(0, data);
            int portA = broker.Port;
            // Variant (a) lists A twice (the replacement comes back on A); variant (b) lists a second port B
            // where nothing listens until the replacement starts there with A's data directory.
            int portB = takeOverOnSecondPort ? FreePort.Pick() : portA;
            string uri = FailoverUri(portA, portB);
            output.WriteLine($"uri: {uri}");
            var queue = new Ferry.Client.Queue("client.failover." + Guid.NewGuid().ToString("N"));

            var factory = new ConnectionFactory(uri);
            await using var producerConnection = await factory.CreateConnectionAsync();
            await using var consumerConnection = await factory.CreateConnectionAsync();
            var producerEvents = new ConnectionEvents(producerConnection);
            var consumerEvents = new ConnectionEvents(consumerConnection);
            await consumerConnection.StartAsync();
            var consumerSession = await consumerConnection.CreateSessionAsync(AcknowledgeMode.Auto);
            var consumer = await consumerSession.CreateConsumerAsync(queue);
            var producerSession = await producerConnection.CreateSessionAsync(AcknowledgeMode.Auto);
            var producer = await producerSession.CreateProducerAsync(queue);

            using var stop = new CancellationTokenSource(Deadline);

            // The application's consumer: receive, record, repeat. No retry logic of its own. It falls behind
            // (it pauses after Messages / 6 until the broker was killed), so at the kill the client holds
            // prefetched messages the broker never saw acknowledged: the replacement dispatches them again,
            // and only the client's duplicate suppression keeps them from reaching the application twice.
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var received = new ConcurrentQueue<int>();
            var consumerErrors = new ConcurrentQueue<Exception>();
            var consuming = Task.Run(async () =>
            {
                try
                {
                    bool paused = false;
                    while (!stop.IsCancellationRequested)
                    {
                        if (!paused && received.Count >= Messages / 6)
                        {
                            paused = true;
                            await killed.Task.WaitAsync(stop.Token);
                        }
                        var message = await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(500), stop.Token);
                        if (message is not null)
                        {
                            received.Enqueue(message.Properties.Get<int>("index"));
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
#pragma warning disable CA1031 // recorded: the assertion is that there are none
                catch (Exception e)
#pragma warning restore CA1031
                {
                    consumerErrors.Enqueue(e);
                }
            });

            // The application's producer: persistent sends, one after the other. A send "returned" when SendAsync completed.
            var returned = new ConcurrentBag<int>();
            var producerErrors = new ConcurrentQueue<Exception>();
            long longestStall = 0;
            int longestStallIndex = -1;
            var producing = Task.Run(async () =>
            {
                try
                {
                    for (int i = 0; i < Messages; i++)
                    {
                        var message = new TextMessage("client-failover-" + i.ToString(CultureInfo.InvariantCulture));
                        message.Properties["index"] = i;
                        long started = Stopwatch.GetTimestamp();
                        await producer.SendAsync(message, stop.Token);
                        long took = Stopwatch.GetTimestamp() - started;
                        if (took > longestStall)
                        {
                            longestStall = took;
                            longestStallIndex = i;
                        }
                        returned.Add(i);
                    }
                }
#pragma warning disable CA1031 // recorded: the assertion is that there are none
                catch (Exception e)
#pragma warning restore CA1031
                {
                    producerErrors.Enqueue(e);
                }
            });

            await WaitFor.ConditionAsync(() => returned.Count >= Messages / 3 || !producerErrors.IsEmpty, TimeSpan.FromSeconds(60), $"{Messages / 3} returned sends");
            long killedAt = Stopwatch.GetTimestamp();
            broker.Kill();
            await broker.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await broker.DisposeAsync();
            broker = null;
            int beforeKill = returned.Count;
            output.WriteLine($"killed the broker on port {portA} after {beforeKill} returned sends, {received.Count} received by the application");
            killed.TrySetResult();

            // The lock on the data directory died with the process, so the replacement can take it.
            broker = await BrokerProcess.StartOnAsync(portB, data);
            output.WriteLine($"replacement broker listening on port {portB} {Elapsed(killedAt):0} ms after the kill");

            await producing.WaitAsync(Deadline);
            Assert.True(producerErrors.IsEmpty, "the producer saw: " + string.Join("; ", producerErrors));
            Assert.Equal(Messages, returned.Count);
            await WaitFor.ConditionAsync(() => received.ToHashSet().IsSupersetOf(returned) || !consumerErrors.IsEmpty, TimeSpan.FromSeconds(60),
                "every returned send to be received");
            // A marker sent last: any redelivery of an earlier message is dispatched before it, so once it
            // arrived a duplicate would have reached the application.
            var marker = new TextMessage("marker");
            marker.Properties["index"] = Messages;
            await producer.SendAsync(marker, stop.Token);
            await WaitFor.ConditionAsync(() => received.Contains(Messages) || !consumerErrors.IsEmpty, TimeSpan.FromSeconds(30), "the marker");
            await stop.CancelAsync();
            await consuming.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.True(consumerErrors.IsEmpty, "the consumer saw: " + string.Join("; ", consumerErrors));
            var all = received.ToList();
            var duplicates = all.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(duplicates.Count == 0, "delivered to the application more than once: " + string.Join(", ", duplicates));
            Assert.Empty(returned.Except(all));
            Assert.Equal(Messages + 1, all.Count);

            output.WriteLine($"producer: {producerEvents}; consumer: {consumerEvents}");
            output.WriteLine($"longest producer stall: {Stopwatch.GetElapsedTime(0, longestStall).TotalMilliseconds:0} ms (send #{longestStallIndex})");
            foreach (var events in new[] { producerEvents, consumerEvents })
            {
                Assert.True(events.Interrupted >= 1 && events.Resumed >= 1, $"expected Interrupted and Resumed: {events}");
                Assert.True(events.Exceptions.IsEmpty, "ExceptionThrown: " + string.Join("; ", events.Exceptions));
            }
            Assert.All(new[] { producerEvents, consumerEvents }, e => Assert.Contains($":{portB}", e.LastResumedAddress, StringComparison.Ordinal));
            broker.AssertNoErrors();
        }
        finally
        {
            if (broker is not null)
            {
                output.WriteLine(string.Join('\n', broker.Lines.TakeLast(30)));
                await broker.DisposeAsync();
            }
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task A_transaction_open_across_the_failover_fails_at_commit_and_its_messages_come_again()
    {
        const int Count = 20;
        string data = Directory.CreateTempSubdirectory("ferry-client-failover-tx-").FullName;
        BrokerProcess? broker = null;
        try
        {
            broker = await BrokerProcess.StartOnAsync(0, data);
            int port = broker.Port;
            var factory = new ConnectionFactory(FailoverUri(port, port));
            var queue = new Ferry.Client.Queue("client.failover.tx." + Guid.NewGuid().ToString("N"));

            await using (var producerConnection = await factory.CreateConnectionAsync())
            {
                var session = await producerConnection.CreateSessionAsync();
                var producer = await session.CreateProducerAsync(queue);
                for (int i = 0; i < Count; i++)
                {
                    var message = new TextMessage("tx-" + i.ToString(CultureInfo.InvariantCulture));
                    message.Properties["index"] = i;
                    await producer.SendAsync(message);
                }
            }

            await using var connection = await factory.CreateConnectionAsync();
            var events = new ConnectionEvents(connection);
            await connection.StartAsync();
            var transacted = await connection.CreateSessionAsync(AcknowledgeMode.Transacted);
            var consumer = await transacted.CreateConsumerAsync(queue);
            var committed = new List<int>();

            // Transaction 1: five messages, committed before the failover.
            committed.AddRange(await ReceiveIndicesAsync(consumer, 5));
            await transacted.CommitAsync();
            // Transaction 2: five more, still open when the broker dies.
            var open = await ReceiveIndicesAsync(consumer, 5);
            Assert.Equal([5, 6, 7, 8, 9], open);

            broker.Kill();
            await broker.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await broker.DisposeAsync();
            broker = null;
            broker = await BrokerProcess.StartOnAsync(port, data);
            await WaitFor.ConditionAsync(() => events.Resumed >= 1, TimeSpan.FromSeconds(60), "the consumer connection to resume");

            var error = await Assert.ThrowsAsync<Ferry.Client.TransactionRolledBackException>(() => transacted.CommitAsync());
            output.WriteLine($"CommitAsync threw {error.GetType().FullName}: {error.Message} (in doubt: {error.InDoubt})");
            Assert.False(error.InDoubt);
            Assert.Contains("rolled back", error.Message, StringComparison.Ordinal);
            Assert.IsAssignableFrom<MessagingException>(error);

            // The rolled-back messages come again, marked redelivered, then the rest; all commit now.
            var again = new List<Message>();
            using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                for (int n = 0; n < Count - 5; n++)
                {
                    again.Add(await consumer.ReceiveAsync(limit.Token) ?? throw new InvalidOperationException("consumer closed"));
                }
            }
            var indices = again.Select(m => m.Properties.Get<int>("index")).ToList();
            Assert.Equal(Enumerable.Range(5, Count - 5), indices);
            Assert.All(again.Take(5), m => Assert.True(m.Redelivered, $"message {m.Properties.Get<int>("index")} should be marked redelivered"));
            await transacted.CommitAsync();
            committed.AddRange(indices);
            Assert.Equal(Enumerable.Range(0, Count), committed);

            // Nothing is left on the queue, and nothing more comes to this consumer.
            Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromSeconds(1)));
            await using var checkConnection = await factory.CreateConnectionAsync();
            await checkConnection.StartAsync();
            var checkSession = await checkConnection.CreateSessionAsync();
            await consumer.CloseAsync();
            var check = await checkSession.CreateConsumerAsync(queue);
            Assert.Null(await check.ReceiveAsync(TimeSpan.FromSeconds(1)));

            output.WriteLine(events.ToString());
            Assert.True(events.Interrupted >= 1 && events.Exceptions.IsEmpty, events.ToString());
            broker.AssertNoErrors();
        }
        finally
        {
            if (broker is not null)
            {
                output.WriteLine(string.Join('\n', broker.Lines.TakeLast(30)));
                await broker.DisposeAsync();
            }
            Directory.Delete(data, recursive: true);
        }
    }

    internal static string FailoverUri(int portA, int portB, string extra = "") =>
        $"failover:(tcp://127.0.0.1:{portA},tcp://127.0.0.1:{portB})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=500{extra}";


    private static async Task<List<int>> ReceiveIndicesAsync(MessageConsumer consumer, int count)
    {
        var indices = new List<int>();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        for (int n = 0; n < count; n++)
        {
            var message = await consumer.ReceiveAsync(limit.Token) ?? throw new InvalidOperationException("consumer closed");
            indices.Add(message.Properties.Get<int>("index"));
        }
        return indices;
    }

    private static double Elapsed(long since) => Stopwatch.GetElapsedTime(since).TotalMilliseconds;

    /// <summary>Counts a connection's Interrupted, Resumed and ExceptionThrown events and measures each outage.</summary>
    internal sealed class ConnectionEvents
    {
        private long _interruptedAt;
        private int _interrupted;
        private int _resumed;
        private readonly ConcurrentQueue<double> _outages = new();

        public ConnectionEvents(Connection connection)
        {
            connection.Interrupted += (_, _) =>
            {
                Interlocked.Exchange(ref _interruptedAt, Stopwatch.GetTimestamp());
                Interlocked.Increment(ref _interrupted);
            };
            connection.Resumed += (_, e) =>
            {
                _outages.Enqueue(Elapsed(Interlocked.Read(ref _interruptedAt)));
                LastResumedAddress = e.Address;
                Interlocked.Increment(ref _resumed);
            };
            connection.ExceptionThrown += (_, e) => Exceptions.Enqueue(e.Exception);
        }

        public int Interrupted => Volatile.Read(ref _interrupted);
        public int Resumed => Volatile.Read(ref _resumed);
        public string LastResumedAddress { get; private set; } = "";
        public ConcurrentQueue<MessagingException> Exceptions { get; } = new();

        public override string ToString() =>
            $"{Interrupted} interrupted, {Resumed} resumed (outages: {string.Join(", ", _outages.Select(o => $"{o:0} ms"))}; last resumed on {LastResumedAddress}), {Exceptions.Count} ExceptionThrown";
    }
}
