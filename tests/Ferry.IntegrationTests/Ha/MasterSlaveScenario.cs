using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Ferry.Client;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Ha;

/// <summary>
/// A master and two slaves (real <c>ferry broker</c> processes sharing one store), the master killed
/// with SIGKILL while two applications run on failover URIs: the ActiveMQ Java client producing, and
/// Ferry.Client producing and consuming. A slave must take over, and every persistent message whose
/// send returned must be delivered. Prints the takeover time and the longest producer stalls.
/// </summary>
internal static class MasterSlaveScenario
{
    private const int JavaMessages = 1000;
    private const int ClientMessages = 1000;
    // Paces both producers (at most ~500 sends/s each) so neither finishes before the kill, on any machine speed.
    private static readonly TimeSpan PauseBetweenSends = TimeSpan.FromMilliseconds(2);

    /// <summary><paramref name="launch"/> starts broker <c>i</c> (0 = the first master) on the given port.</summary>
    public static async Task RunAsync(ITestOutputHelper output, Func<int, int, BrokerProcess> launch)
    {
        var brokers = new List<BrokerProcess>();
        try
        {
            int[] ports = [FreePort.Pick(), FreePort.Pick(), FreePort.Pick()];
            var master = launch(0, ports[0]);
            brokers.Add(master);
            await master.WaitForLogAsync("listening on", TimeSpan.FromSeconds(60));
            for (int i = 1; i < 3; i++)
            {
                var slave = launch(i, ports[i]);
                brokers.Add(slave);
                await slave.WaitForLogAsync("Broker is a slave", TimeSpan.FromSeconds(60));
            }
            Assert.All(brokers.Skip(1), s => Assert.DoesNotContain(s.Lines, l => l.Contains("listening on", StringComparison.Ordinal)));

            string hosts = string.Join(',', ports.Select(p => $"tcp://127.0.0.1:{p}"));
            string queue = "ha." + Guid.NewGuid().ToString("N");
            string javaUrl = $"failover:({hosts})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=500&maxReconnectAttempts=200";
            var sent = new ConcurrentQueue<(int Index, long Ticks)>();
            using var javaProducer = await JavaInterop.StartDurabilityAsync(javaUrl, "produce", line =>
            {
                if (line.StartsWith("SENT ", StringComparison.Ordinal))
                {
                    sent.Enqueue((int.Parse(line[5..], CultureInfo.InvariantCulture), Stopwatch.GetTimestamp()));
                }
            }, queue, JavaMessages.ToString(CultureInfo.InvariantCulture), PauseBetweenSends.TotalMilliseconds.ToString(CultureInfo.InvariantCulture));

            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            // The JVM takes a while to start: begin the Ferry.Client run once the Java producer is sending, so both overlap the kill.
            await WaitFor.ConditionAsync(() => !sent.IsEmpty, TimeSpan.FromSeconds(90), "the Java producer's first send");
            var client = new FerryClientRun($"failover:({hosts})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=500", "ha.client." + Guid.NewGuid().ToString("N"));
            await client.StartAsync(stop.Token);

            // Kill while both producers are well under way and far from done, so both send across the takeover.
            await WaitFor.ConditionAsync(() => sent.Count >= 50 && client.Returned.Count >= 50, TimeSpan.FromSeconds(90), "sends before the kill");
            long killedAt = Stopwatch.GetTimestamp();
            master.Kill();
            int javaSentAtKill = sent.Count, clientSentAtKill = client.Returned.Count;
            await master.WaitForExitAsync(TimeSpan.FromSeconds(10));

            var newMaster = await await Task.WhenAny(brokers.Skip(1).Select(async s =>
            {
                await s.WaitForLogAsync("listening on", TimeSpan.FromSeconds(60));
                return s;
            }));
            await newMaster.WaitUntilListeningAsync(TimeSpan.FromSeconds(5));
            double takeover = Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds;

            await javaProducer.WaitForExitAsync(stop.Token);
            Assert.Equal(0, javaProducer.ExitCode);
            await client.FinishAsync();
            var stamps = sent.OrderBy(s => s.Ticks).Select(s => s.Ticks).ToList();
            double javaStall = stamps.Zip(stamps.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds).Max();
            Assert.True(javaSentAtKill < JavaMessages && clientSentAtKill < ClientMessages,
                $"a producer had finished before the kill (Java {javaSentAtKill}/{JavaMessages}, Ferry.Client {clientSentAtKill}/{ClientMessages}): the stall would measure nothing");
            output.WriteLine($"takeover: new master listening {takeover:F0} ms after SIGKILL; longest producer stall: Java client {javaStall:F0} ms, Ferry.Client {client.LongestStall.TotalMilliseconds:F0} ms");

            var (code, text) = await JavaInterop.RunDurabilityAsync(newMaster.Uri, "drain", queue);
            Assert.True(code == 0, text);
            var received = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("RECV crash-", StringComparison.Ordinal))
                .Select(l => int.Parse(l["RECV crash-".Length..], CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(received.Count, received.Distinct().Count());
            var missing = sent.Select(s => s.Index).Except(received).ToList();
            Assert.True(missing.Count == 0, "Java client: acknowledged but lost: " + string.Join(",", missing));
            var clientMissing = client.Returned.Except(client.Received).ToList();
            Assert.True(clientMissing.Count == 0, "Ferry.Client: returned but never delivered: " + string.Join(",", clientMissing));
            Assert.Equal(client.Received.Count, client.Received.Distinct().Count());

            Assert.Contains(newMaster.Lines, l => l.Contains("Broker is the master", StringComparison.Ordinal));
            var stillSlave = brokers.Skip(1).Single(b => b != newMaster);
            Assert.DoesNotContain(stillSlave.Lines, l => l.Contains("listening on", StringComparison.Ordinal));
            newMaster.AssertNoErrors();
        }
        finally
        {
            foreach (var broker in brokers)
            {
                await broker.DisposeAsync();
            }
        }
    }

    /// <summary>Plain application code on Ferry.Client: one producer sending persistent messages in a loop, one consumer receiving.</summary>
    private sealed class FerryClientRun(string uri, string queueName)
    {
        private readonly ConcurrentQueue<int> _received = new();
        private readonly ConcurrentQueue<int> _returned = new();
        private readonly ConcurrentQueue<Exception> _errors = new();
        private Connection? _producerConnection;
        private Connection? _consumerConnection;
        private Task _producing = Task.CompletedTask;
        private Task _consuming = Task.CompletedTask;
        private CancellationToken _token;
        private long _longestStall;

        public IReadOnlyCollection<int> Returned => _returned;
        public IReadOnlyList<int> Received => _received.ToList();
        public TimeSpan LongestStall => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _longestStall));

        public async Task StartAsync(CancellationToken token)
        {
            _token = token;
            var queue = new Ferry.Client.Queue(queueName);
            var factory = new ConnectionFactory(uri);
            _producerConnection = await factory.CreateConnectionAsync();
            _consumerConnection = await factory.CreateConnectionAsync();
            await _consumerConnection.StartAsync();
            var consumer = await (await _consumerConnection.CreateSessionAsync(AcknowledgeMode.Auto)).CreateConsumerAsync(queue);
            var producer = await (await _producerConnection.CreateSessionAsync(AcknowledgeMode.Auto)).CreateProducerAsync(queue);
            _producing = Task.Run(async () =>
            {
                try
                {
                    for (int i = 0; i < ClientMessages; i++)
                    {
                        var message = new TextMessage("ha-" + i.ToString(CultureInfo.InvariantCulture));
                        message.Properties["index"] = i;
                        long started = Stopwatch.GetTimestamp();
                        await producer.SendAsync(message, token);
                        long took = Stopwatch.GetTimestamp() - started;
                        if (took > Interlocked.Read(ref _longestStall))
                        {
                            Interlocked.Exchange(ref _longestStall, took);
                        }
                        _returned.Enqueue(i);
                        await Task.Delay(PauseBetweenSends, token);
                    }
                }
#pragma warning disable CA1031 // recorded: the assertion is that there are none
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _errors.Enqueue(e);
                }
            }, CancellationToken.None);
            _consuming = Task.Run(async () =>
            {
                try
                {
                    while (_received.Count < ClientMessages && !token.IsCancellationRequested)
                    {
                        var message = await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(500), token);
                        if (message is not null)
                        {
                            _received.Enqueue(message.Properties.Get<int>("index"));
                        }
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                }
#pragma warning disable CA1031 // recorded: the assertion is that there are none
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _errors.Enqueue(e);
                }
            }, CancellationToken.None);
        }

        public async Task FinishAsync()
        {
            await _producing.WaitAsync(_token);
            await WaitFor.ConditionAsync(() => _received.Distinct().Count() >= _returned.Count || !_errors.IsEmpty, TimeSpan.FromSeconds(60), "Ferry.Client consumer receiving every returned send");
            Assert.True(_errors.IsEmpty, "Ferry.Client application errors: " + string.Join("; ", _errors));
            await _producerConnection!.DisposeAsync();
            await _consumerConnection!.DisposeAsync();
            await _consuming.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
