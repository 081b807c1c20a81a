using System.Diagnostics;
using System.Globalization;
using Ferry.Client;

namespace Ferry.Benchmarks;

/// <summary>
/// Queue throughput of Ferry.Client against any OpenWire broker (Ferry or ActiveMQ), for
/// <c>bench/compare-clients</c>: one producer and one consumer, each on its own connection, in one
/// process; 1 KiB text messages; auto-acknowledge with the default prefetch (1000). Persistent messages
/// are sent the client's default way (sync: each send waits for the broker's receipt); non-persistent
/// ones are one-way. The mirror of <c>bench/java/JmsBench.java</c>: keep the two in step.
/// Run: dotnet Ferry.Benchmarks.dll --client-comparison brokerUrl persistent|nonpersistent messages warmup [brokerPid]
/// The first <c>warmup</c> messages go through untimed; the clock runs from the first timed send to the
/// consumer's receipt of the last message. Prints
/// <c>RESULT client=ferry mode=... messages=N seconds=S rate=R client_cpu_s=C broker_cpu_s=B</c>
/// (CPU seconds over the timed part; broker_cpu_s from /proc/brokerPid/stat, -1 without a pid).
/// </summary>
public static class ClientComparison
{
    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 4 || args[1] is not ("persistent" or "nonpersistent"))
        {
            await Console.Error.WriteLineAsync("usage: --client-comparison <brokerUrl> <persistent|nonpersistent> <messages> <warmup> [brokerPid]");
            return 2;
        }
        string url = args[0];
        bool persistent = args[1] == "persistent";
        int messages = int.Parse(args[2], CultureInfo.InvariantCulture);
        int warmup = int.Parse(args[3], CultureInfo.InvariantCulture);
        int brokerPid = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : -1;
        string body = new('x', 1024);
        var queue = new Queue($"bench.compare.ferry.{args[1]}.{Environment.ProcessId}");

        var factory = new ConnectionFactory(url);
        await using var consumerConnection = await factory.CreateConnectionAsync();
        await using var producerConnection = await factory.CreateConnectionAsync();
        await consumerConnection.StartAsync();
        await producerConnection.StartAsync();
        await using var consumerSession = await consumerConnection.CreateSessionAsync(AcknowledgeMode.Auto);
        await using var producerSession = await producerConnection.CreateSessionAsync(AcknowledgeMode.Auto);
        await using var consumer = await consumerSession.CreateConsumerAsync(queue);
        await using var producer = await producerSession.CreateProducerAsync(queue);
        producer.DeliveryMode = persistent ? DeliveryMode.Persistent : DeliveryMode.NonPersistent;

        if (warmup > 0)
        {
            await RunOnceAsync(producer, consumer, body, warmup);
        }
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        long broker0 = BrokerCpuTicks(brokerPid);
        var elapsed = await RunOnceAsync(producer, consumer, body, messages);
        self.Refresh();
        var cpu1 = self.TotalProcessorTime;
        long broker1 = BrokerCpuTicks(brokerPid);
        double seconds = elapsed.TotalSeconds;
        double brokerCpu = brokerPid > 0 ? (broker1 - broker0) / 100.0 : -1;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT client=ferry mode={args[1]} messages={messages} seconds={seconds:F4} rate={messages / seconds:F1} client_cpu_s={(cpu1 - cpu0).TotalSeconds:F3} broker_cpu_s={brokerCpu:F2}"));
        return 0;
    }

    /// <summary>Sends and receives <paramref name="count"/> messages; returns the time from the first send to the last receipt.</summary>
    private static async Task<TimeSpan> RunOnceAsync(MessageProducer producer, MessageConsumer consumer, string body, int count)
    {
        var received = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                _ = await consumer.ReceiveAsync(ReceiveTimeout)
                    ?? throw new InvalidOperationException($"no message within {ReceiveTimeout.TotalSeconds} s after {i} of {count}");
            }
            return Stopwatch.GetTimestamp();
        });
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            await producer.SendAsync(new TextMessage(body));
        }
        long end = await received;
        return Stopwatch.GetElapsedTime(start, end);
    }

    /// <summary>utime + stime of <paramref name="pid"/> in clock ticks (USER_HZ, 100 on Linux), or 0 without a pid.</summary>
    private static long BrokerCpuTicks(int pid)
    {
        if (pid <= 0)
        {
            return 0;
        }
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
}
