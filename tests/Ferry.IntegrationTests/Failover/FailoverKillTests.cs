using System.Collections.Concurrent;
using System.Threading.Channels;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Failover;

/// <summary>
/// Ferry's own failover transport against a real <c>ferry broker</c> that is killed with SIGKILL and
/// restarted on the same port and data directory, while a producer sends persistent sync messages
/// and a consumer receives them, each over its own failover:(…) connection.
/// </summary>
public sealed class FailoverKillTests(ITestOutputHelper output)
{
    private const int Messages = 300;

    [Fact]
    public async Task Every_send_that_returned_is_received_through_a_SIGKILL_and_restart()
    {
        string data = Directory.CreateTempSubdirectory("ferry-failover-kill-").FullName;
        BrokerProcess? broker = null;
        try
        {
            broker = await BrokerProcess.StartOnAsync(0, data);
            int port = broker.Port;
            string uri = $"failover:(tcp://127.0.0.1:{port})?randomize=false&initialReconnectDelay=50";
            var queue = Destination.Queue("failover.kill." + Guid.NewGuid().ToString("N"));

            await using var consumer = await RawClient.ConnectAsync(uri);
            await using var producer = await RawClient.ConnectAsync(uri);
            var consumerId = await consumer.SubscribeAsync(queue);
            var producerId = await producer.AddProducerAsync(queue);

            // Consumer: acks every message and records (text, incarnation) — the incarnation is how many
            // times its transport had resumed when the dispatch arrived.
            var received = new ConcurrentQueue<(int Index, int Incarnation, int Redeliveries)>();
            using var stopConsuming = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var consuming = Task.Run(async () =>
            {
                while (!stopConsuming.IsCancellationRequested)
                {
                    MessageDispatch dispatch;
                    try
                    {
                        dispatch = await consumer.Dispatches.ReadAsync(stopConsuming.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    if (dispatch.Message is not { } message)
                    {
                        continue;
                    }
                    int index = int.Parse(OpenWireTestClient.TextOf(message)["kill-".Length..], System.Globalization.CultureInfo.InvariantCulture);
                    received.Enqueue((index, consumer.Resumed, message.RedeliveryCounter));
                    await consumer.Transport.SendAsync(new MessageAck
                    {
                        AckType = AckType.Standard,
                        ConsumerId = consumerId,
                        Destination = dispatch.Destination,
                        FirstMessageId = message.MessageId,
                        LastMessageId = message.MessageId,
                        MessageCount = 1,
                    }, stopConsuming.Token);
                }
            });

            // Producer: persistent sync sends; a send "returned" when the broker answered with a Response.
            var returned = new ConcurrentBag<int>();
            var failedSends = new ConcurrentBag<string>();
            var producing = Task.Run(async () =>
            {
                for (int i = 0; i < Messages; i++)
                {
                    var message = OpenWireTestClient.TextMessage(producerId, i + 1, queue, $"kill-{i}");
                    message.Persistent = true;
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                    try
                    {
                        var response = await producer.Transport.RequestAsync(message, cts.Token);
                        if (response is ExceptionResponse error)
                        {
                            failedSends.Add($"{i}: {error.Exception}");
                        }
                        else
                        {
                            returned.Add(i);
                        }
                    }
                    catch (Exception ex) when (ex is TransportClosedException or OperationCanceledException or TimeoutException)
                    {
                        failedSends.Add($"{i}: {ex.Message}");
                    }
                }
            });

            await WaitFor.ConditionAsync(() => returned.Count >= Messages / 3, TimeSpan.FromSeconds(60), $"{Messages / 3} acknowledged sends");
            broker.Kill();
            await broker.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await broker.DisposeAsync();
            int beforeKill = returned.Count;
            output.WriteLine($"killed after {beforeKill} acknowledged sends, {received.Count} received");
            broker = null;
            broker = await BrokerProcess.StartOnAsync(port, data);

            await producing.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(failedSends.IsEmpty, "sends failed: " + string.Join("; ", failedSends));
            Assert.Equal(Messages, returned.Count);
            await WaitFor.ConditionAsync(() => received.Select(r => r.Index).ToHashSet().IsSupersetOf(returned), TimeSpan.FromSeconds(60),
                "every acknowledged send to be received");
            await stopConsuming.CancelAsync();
            await consuming;

            var all = received.ToList();
            var duplicates = all.GroupBy(r => r.Index).Where(g => g.Count() > 1).ToList();
            output.WriteLine($"received {all.Count} dispatches of {all.Select(r => r.Index).Distinct().Count()} messages; " +
                $"{duplicates.Count} delivered more than once: {string.Join(", ", duplicates.Select(g => $"{g.Key}@[{string.Join(",", g.Select(r => r.Incarnation))}]"))}");
            // The transport adds no duplicates: within one broker incarnation each message arrives once
            // (a producer resend of a stored message is dropped by the broker's producer audit). The only
            // repeats allowed are the broker's redeliveries across the crash of messages first received
            // before it (their acks may have died with the broker).
            foreach (var group in duplicates)
            {
                var incarnations = group.Select(r => r.Incarnation).ToList();
                Assert.True(incarnations.Distinct().Count() == incarnations.Count,
                    $"message {group.Key} was delivered twice on the same link incarnation: [{string.Join(",", incarnations)}]");
                Assert.True(incarnations.Min() == 0, $"message {group.Key} was first received after the kill and then again");
            }
            Assert.True(duplicates.Count <= beforeKill, "more repeats than messages sent before the kill");

            Assert.True(producer.Interrupted >= 1 && producer.Resumed >= 1, $"producer outage events: {producer.Interrupted} interrupted, {producer.Resumed} resumed");
            Assert.True(consumer.Interrupted >= 1 && consumer.Resumed >= 1, $"consumer outage events: {consumer.Interrupted} interrupted, {consumer.Resumed} resumed");
            Assert.Equal(0, producer.FailedEvents + consumer.FailedEvents);
            broker.AssertNoErrors();
        }
        finally
        {
            if (broker is not null)
            {
                output.WriteLine(string.Join('\n', broker.Lines.TakeLast(40)));
                await broker.DisposeAsync();
            }
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>A bare client on a failover transport: a connection, one session, raw commands.</summary>
    private sealed class RawClient : IAsyncDisposable
    {
        private readonly Channel<MessageDispatch> _dispatches = Channel.CreateUnbounded<MessageDispatch>();
        private int _interrupted;
        private int _resumed;
        private int _failed;

        private RawClient(string uri)
        {
            Transport = TransportFactory.Create(uri);
            Transport.OnCommand = command =>
            {
                if (command is MessageDispatch dispatch)
                {
                    _dispatches.Writer.TryWrite(dispatch);
                }
                return ValueTask.CompletedTask;
            };
            Transport.Interrupted += (_, _) => Interlocked.Increment(ref _interrupted);
            Transport.Resumed += (_, _) => Interlocked.Increment(ref _resumed);
            Transport.Failed += (_, _) => Interlocked.Increment(ref _failed);
            ConnectionId = new ConnectionId($"ID:failover-kill-{Guid.NewGuid():N}:1");
            SessionId = new SessionId(ConnectionId.Value!, 1);
        }

        public IOpenWireTransport Transport { get; }
        public ConnectionId ConnectionId { get; }
        public SessionId SessionId { get; }
        public ChannelReader<MessageDispatch> Dispatches => _dispatches.Reader;
        public int Interrupted => Volatile.Read(ref _interrupted);
        public int Resumed => Volatile.Read(ref _resumed);
        public int FailedEvents => Volatile.Read(ref _failed);

        public static async Task<RawClient> ConnectAsync(string uri)
        {
            var client = new RawClient(uri);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await client.Transport.StartAsync(cts.Token);
            Ok(await client.Transport.RequestAsync(new ConnectionInfo
            {
                ConnectionId = client.ConnectionId,
                ClientId = client.ConnectionId.Value,
                Manageable = true,
                FaultTolerant = client.Transport.IsFaultTolerant,
            }, cts.Token));
            await client.Transport.SendAsync(new SessionInfo { SessionId = client.SessionId }, cts.Token);
            return client;
        }

        public async Task<ConsumerId> SubscribeAsync(Destination destination)
        {
            var id = new ConsumerId(ConnectionId.Value!, SessionId.Value, 1);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Ok(await Transport.RequestAsync(new ConsumerInfo { ConsumerId = id, Destination = destination, PrefetchSize = 100, DispatchAsync = true }, cts.Token));
            return id;
        }

        public async Task<ProducerId> AddProducerAsync(Destination destination)
        {
            var id = new ProducerId(ConnectionId.Value!, SessionId.Value, 1);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Ok(await Transport.RequestAsync(new ProducerInfo { ProducerId = id, Destination = destination }, cts.Token));
            return id;
        }

        private static void Ok(Response response)
        {
            if (response is ExceptionResponse error)
            {
                throw new InvalidOperationException("broker refused: " + error.Exception);
            }
        }

        public ValueTask DisposeAsync() => Transport.DisposeAsync();
    }
}
