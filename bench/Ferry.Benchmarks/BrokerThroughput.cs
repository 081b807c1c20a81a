using System.Diagnostics;
using System.Globalization;
using Ferry.Broker;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Store.IO;
using Ferry.Store.Journal;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Benchmarks;

/// <summary>
/// Queue throughput through a real broker on loopback TCP with the journal store (fsync on every
/// batch): 1 producer and 1 consumer with 1 KiB messages, persistent (sync sends) and
/// non-persistent (async sends); then group commit, as messages per fsync with 1, 10 and 100
/// concurrent producers doing sync persistent sends.
/// Run: dotnet run -c Release --project bench/Ferry.Benchmarks -- --broker-throughput [messages]
/// </summary>
public static class BrokerThroughput
{
    public static async Task RunAsync(string[] args)
    {
        int messages = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5000;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        Console.WriteLine($"{messages} messages of 1 KiB, journal sync policy: always (fdatasync per batch)");
        Console.WriteLine();
        Console.WriteLine("| workload | messages/s | MB/s |");
        Console.WriteLine("|---|---:|---:|");
        foreach (bool persistent in new[] { true, false })
        {
            await using var broker = await StartAsync();
            double rate = await OneToOneAsync(broker.Service, persistent, messages);
            Console.WriteLine($"| queue 1→1, {(persistent ? "persistent, sync sends" : "non-persistent, async sends")} | {rate:N0} | {rate * 1024 / 1e6:N1} |");
        }
        Console.WriteLine();
        Console.WriteLine("| concurrent producers | messages | fsyncs | messages per fsync | messages/s |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (int producers in new[] { 1, 10, 100 })
        {
            await using var broker = await StartAsync();
            await GroupCommitAsync(broker, producers, Math.Max(messages / 2, producers * 20));
        }
    }

    private sealed class RunningBroker(BrokerService service, JournalPersistenceAdapter store, string directory) : IAsyncDisposable
    {
        public BrokerService Service { get; } = service;
        public JournalPersistenceAdapter Store { get; } = store;

        public async ValueTask DisposeAsync()
        {
            await Service.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<RunningBroker> StartAsync()
    {
        string directory = Directory.CreateTempSubdirectory("ferry-bench-").FullName;
        var options = new BrokerOptions { BrokerName = "bench", MemoryLimit = 1L << 30 };
        options.TransportConnectors.Add(new TransportConnectorOptions { Uri = "tcp://127.0.0.1:0" });
        var store = new JournalPersistenceAdapter(new JournalOptions { Directory = directory }, PhysicalFileSystem.Instance, NullLogger.Instance);
        var service = new BrokerService(options, NullLoggerFactory.Instance, store);
        await service.StartAsync();
        return new RunningBroker(service, store, directory);
    }

    private static int PortOf(BrokerService broker) => int.Parse(broker.BoundUris[0][(broker.BoundUris[0].LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);

    private static async Task<double> OneToOneAsync(BrokerService broker, bool persistent, int count)
    {
        int port = PortOf(broker);
        var queue = Destination.Queue("bench.one-to-one");
        await using var consumer = await OpenWireTestClient.ConnectAsync("127.0.0.1", port);
        await using var producer = await OpenWireTestClient.ConnectAsync("127.0.0.1", port);
        await consumer.SubscribeAsync(queue, prefetch: 1000);
        var producerId = await producer.AddProducerAsync(queue);
        string body = new('x', 1020);
        var received = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                var dispatch = await consumer.ReceiveAsync(TimeSpan.FromSeconds(60));
                consumer.Ack(dispatch);
            }
        });
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var message = OpenWireTestClient.TextMessage(producerId, i + 1, queue, body);
            message.Persistent = persistent;
            if (persistent)
            {
                OpenWireTestClient.EnsureOk(await producer.RequestAsync(message, TimeSpan.FromSeconds(60)));
            }
            else
            {
                producer.Send(message);
            }
        }
        await received;
        return count / clock.Elapsed.TotalSeconds;
    }

    private static async Task GroupCommitAsync(RunningBroker broker, int producers, int total)
    {
        int port = PortOf(broker.Service);
        var queue = Destination.Queue("bench.group-commit");
        var clients = new List<OpenWireTestClient>();
        for (int p = 0; p < producers; p++)
        {
            clients.Add(await OpenWireTestClient.ConnectAsync("127.0.0.1", port));
        }
        var ids = new List<ProducerId>();
        foreach (var client in clients)
        {
            ids.Add(await client.AddProducerAsync(queue));
        }
        int perProducer = total / producers;
        string body = new('y', 1020);
        long flushesBefore = broker.Store.Journal.Stats.Flushes;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(clients.Select(async (client, p) =>
        {
            for (int i = 0; i < perProducer; i++)
            {
                var message = OpenWireTestClient.TextMessage(ids[p], i + 1, queue, body);
                message.Persistent = true;
                OpenWireTestClient.EnsureOk(await client.RequestAsync(message, TimeSpan.FromSeconds(120)));
            }
        }));
        double seconds = clock.Elapsed.TotalSeconds;
        long flushes = broker.Store.Journal.Stats.Flushes - flushesBefore;
        int sent = perProducer * producers;
        Console.WriteLine($"| {producers} | {sent} | {flushes} | {(double)sent / Math.Max(1, flushes):N1} | {sent / seconds:N0} |");
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }
}
