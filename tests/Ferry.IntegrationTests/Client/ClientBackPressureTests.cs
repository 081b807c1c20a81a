using Ferry.Client;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Client;

/// <summary>
/// One-way sends against a real <c>ferry broker</c> process that stops reading (SIGSTOP): the client's
/// output fills past its limit, the sends wait instead of the client dropping its own connection,
/// and once the broker runs again every message arrives exactly once.
/// </summary>
public sealed class ClientBackPressureTests(ITestOutputHelper output)
{
    // Far more than the socket buffers and the output limit hold, so the sends must wait while the broker is stopped.
    private const int Count = 40_000;
    private const int BodySize = 1024;
    private const string SmallOutput = "maxPendingOutputBytes=262144";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData("tcp")]
    [InlineData("failover")]
    public async Task Async_sends_to_a_broker_that_stops_reading_wait_and_all_arrive_once_it_resumes(string transport)
    {
        await using var broker = await BrokerProcess.StartAsync();
        string tcp = $"tcp://127.0.0.1:{broker.Port}?{SmallOutput}";
        string uri = transport == "tcp" ? tcp : $"failover:({tcp})?initialReconnectDelay=50&maxReconnectDelay=200";
        var queue = new Ferry.Client.Queue("client.backpressure." + transport + "." + Guid.NewGuid().ToString("N"));

        await using var producerConnection = await new ConnectionFactory(uri).CreateConnectionAsync();
        var producerSession = await producerConnection.CreateSessionAsync();
        var producer = await producerSession.CreateProducerAsync(queue);
        producer.DeliveryMode = DeliveryMode.NonPersistent; // one-way sends

        broker.Pause();
        int sent = 0;
        Task sending;
        try
        {
            sending = Task.Run(async () =>
            {
                string padding = new('x', BodySize - 8);
                for (int i = 0; i < Count; i++)
                {
                    await producer.SendAsync(new TextMessage($"{i:D8}{padding}"));
                    Volatile.Write(ref sent, i + 1);
                }
            });
            await WaitUntilStalledAsync(() => Volatile.Read(ref sent), sending);
            output.WriteLine($"{Volatile.Read(ref sent)} of {Count} sends done while the broker is stopped");
            // Had the client dropped its own connection as a slow consumer, the sends would have failed.
            Assert.False(sending.IsCompleted, $"the sends ended while the broker was stopped: {sending.Exception?.GetBaseException().Message}");
        }
        finally
        {
            broker.Resume();
        }

        await using var consumerConnection = await new ConnectionFactory(broker.Uri).CreateConnectionAsync();
        await consumerConnection.StartAsync();
        var consumerSession = await consumerConnection.CreateSessionAsync();
        var consumer = await consumerSession.CreateConsumerAsync(queue);
        var seen = new bool[Count];
        for (int received = 0; received < Count; received++)
        {
            var message = Assert.IsType<TextMessage>(await consumer.ReceiveAsync(Wait));
            int index = int.Parse(message.Text.AsSpan(0, 8), System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(seen[index], $"message {index} arrived twice");
            seen[index] = true;
        }
        await sending.WaitAsync(Wait);
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        Assert.True(Array.TrueForAll(seen, s => s));
        broker.AssertNoErrors();
    }

    /// <summary>Waits (bounded) until the send count stops moving for a second, or the sends end.</summary>
    private static async Task WaitUntilStalledAsync(Func<int> progress, Task sending)
    {
        using var limit = new CancellationTokenSource(Wait);
        int last = -1;
        int still = 0;
        while (still < 5 && !sending.IsCompleted)
        {
            await Task.Delay(200, limit.Token);
            int now = progress();
            still = now == last ? still + 1 : 0;
            last = now;
        }
    }
}
