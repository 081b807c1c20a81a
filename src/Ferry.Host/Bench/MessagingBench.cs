using System.Diagnostics;
using System.Globalization;
using Ferry.Client;

namespace Ferry.Host.Bench;

/// <summary><c>ferry bench producer|consumer|roundtrip</c>: timed message loops, one connection per worker.</summary>
internal static class MessagingBench
{
    public static async Task<int> ProduceAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var senders = await Task.WhenAll(Enumerable.Range(0, options.Producers).Select(_ => BenchClients.CreateSenderAsync(options, cancellationToken)));
        try
        {
            await using var meter = new BenchMeter("producer", options.Quiet);
            long deadline = Deadline(options);
            byte[] body = new byte[options.Size];
            Array.Fill(body, (byte)'x');
            await Task.WhenAll(senders.Select(s => Task.Run(() => SendAllAsync(s, body, options, meter, deadline, cancellationToken), cancellationToken)));
            meter.PrintSummary(Settings(options, "producers", options.Producers));
            return 0;
        }
        finally
        {
            foreach (var s in senders)
            {
                await s.DisposeAsync();
            }
        }
    }

    private static async Task SendAllAsync(IBenchSender sender, byte[] body, BenchOptions options, BenchMeter meter, long deadline, CancellationToken cancellationToken)
    {
        // Only a sync send has a latency of its own; an async one returns once it is buffered.
        var latencies = options.SyncSends ? meter.NewLatencies() : null;
        long sent = 0;
        while ((options.Messages is not long max || sent < max) && Stopwatch.GetTimestamp() < deadline)
        {
            long start = Stopwatch.GetTimestamp();
            await sender.SendAsync(body, BenchMeter.NowMicros(), cancellationToken);
            latencies?.Add((long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            sent++;
            if (options.TransactedBatch > 0 && sent % options.TransactedBatch == 0)
            {
                await sender.CommitAsync(cancellationToken);
            }
            meter.Count(body.Length);
        }
        if (options.TransactedBatch > 0 && sent % options.TransactedBatch != 0)
        {
            await sender.CommitAsync(cancellationToken);
        }
        await sender.DrainAsync(cancellationToken);
        meter.Stamp();
    }

    public static async Task<int> ConsumeAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var receivers = await Task.WhenAll(Enumerable.Range(0, options.Consumers).Select(_ => BenchClients.CreateReceiverAsync(options, cancellationToken)));
        try
        {
            // Scripts start producers once they see this line (a topic keeps nothing for absent subscribers).
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"ready: {receivers.Length} consumer(s) on {options.Destination}"));
            await using var meter = new BenchMeter("consumer", options.Quiet);
            long deadline = Deadline(options);
            long[] counts = await Task.WhenAll(receivers.Select(r => Task.Run(() => ReceiveAllAsync(r, options, meter, deadline, cancellationToken), cancellationToken)));
            meter.PrintSummary(Settings(options, "consumers", options.Consumers));
            if (options.Duration is null && counts.Any(c => c < options.Messages))
            {
                await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"ferry bench: consumers received [{string.Join(", ", counts)}] of {options.Messages} each; gave up after {options.ReceiveTimeout.TotalSeconds} s without a message"));
                return 1;
            }
            return 0;
        }
        finally
        {
            foreach (var r in receivers)
            {
                await r.DisposeAsync();
            }
        }
    }

    private static async Task<long> ReceiveAllAsync(IBenchReceiver receiver, BenchOptions options, BenchMeter meter, long deadline, CancellationToken cancellationToken)
    {
        var latencies = meter.NewLatencies();
        long received = 0;
        while (options.Messages is not long max || received < max)
        {
            var left = deadline == long.MaxValue ? options.ReceiveTimeout : Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                break;
            }
            var receipt = await receiver.ReceiveAsync(left < options.ReceiveTimeout ? left : options.ReceiveTimeout, cancellationToken);
            if (receipt is not BenchReceipt r)
            {
                break;
            }
            if (r.SentMicros > 0)
            {
                latencies.Add(BenchMeter.NowMicros() - r.SentMicros);
            }
            received++;
            if (options.TransactedBatch > 0 && received % options.TransactedBatch == 0)
            {
                await receiver.CommitAsync(cancellationToken);
            }
            meter.Count(r.Bytes);
        }
        if (options.TransactedBatch > 0 && received % options.TransactedBatch != 0)
        {
            await receiver.CommitAsync(cancellationToken);
        }
        // Consumers of a queue share its messages: one done with its count must not sit on the rest.
        await receiver.StopAsync(cancellationToken);
        return received;
    }

    /// <summary>Request/reply: requesters send to the destination with a temporary reply queue, responders echo the body back.</summary>
    public static async Task<int> RoundTripAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        if (options.IsTopic)
        {
            throw new ArgumentException("roundtrip needs a queue destination");
        }
        var factory = OpenWireBenchClient.Factory(options);
        var connections = new List<Connection>();
        using var stopResponders = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var responders = new List<Task>();
        try
        {
            for (int i = 0; i < options.Consumers; i++)
            {
                var connection = await factory.CreateConnectionAsync(cancellationToken);
                connections.Add(connection);
                await connection.StartAsync(cancellationToken);
                var session = await connection.CreateSessionAsync(AcknowledgeMode.Auto, cancellationToken);
                var consumer = await session.CreateConsumerAsync(OpenWireBenchClient.Destination(options), cancellationToken: cancellationToken);
                var producer = await session.CreateProducerAsync(null, cancellationToken);
                responders.Add(RespondAsync(consumer, producer, options, stopResponders.Token));
            }
            var requesters = new List<(Session Session, MessageProducer Producer, MessageConsumer Replies, TemporaryQueue ReplyTo)>();
            for (int i = 0; i < options.Producers; i++)
            {
                var connection = await factory.CreateConnectionAsync(cancellationToken);
                connections.Add(connection);
                await connection.StartAsync(cancellationToken);
                var session = await connection.CreateSessionAsync(AcknowledgeMode.Auto, cancellationToken);
                var replyTo = await session.CreateTemporaryQueueAsync(cancellationToken);
                var replies = await session.CreateConsumerAsync(replyTo, cancellationToken: cancellationToken);
                var producer = await session.CreateProducerAsync(OpenWireBenchClient.Destination(options), cancellationToken);
                producer.DeliveryMode = options.Persistent ? DeliveryMode.Persistent : DeliveryMode.NonPersistent;
                requesters.Add((session, producer, replies, replyTo));
            }
            await using var meter = new BenchMeter("roundtrip", options.Quiet);
            long deadline = Deadline(options);
            byte[] body = new byte[options.Size];
            Array.Fill(body, (byte)'x');
            await Task.WhenAll(requesters.Select(r => Task.Run(() => RequestAllAsync(r.Producer, r.Replies, r.ReplyTo, body, options, meter, deadline, cancellationToken), cancellationToken)));
            meter.PrintSummary(Settings(options, "requesters", options.Producers));
            return 0;
        }
        finally
        {
            await stopResponders.CancelAsync();
            await Task.WhenAll(responders);
            foreach (var c in connections)
            {
                await c.DisposeAsync();
            }
        }
    }

    private static async Task RequestAllAsync(MessageProducer producer, MessageConsumer replies, TemporaryQueue replyTo, byte[] body,
        BenchOptions options, BenchMeter meter, long deadline, CancellationToken cancellationToken)
    {
        var latencies = meter.NewLatencies();
        long done = 0;
        while ((options.Messages is not long max || done < max) && Stopwatch.GetTimestamp() < deadline)
        {
            long start = Stopwatch.GetTimestamp();
            var request = new BytesMessage(body) { ReplyTo = replyTo };
            await producer.SendAsync(request, cancellationToken);
            var reply = await replies.ReceiveAsync(options.ReceiveTimeout, cancellationToken)
                ?? throw new TimeoutException($"no reply within {options.ReceiveTimeout.TotalSeconds} s (after {done} round trips)");
            latencies.Add((long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            done++;
            meter.Count(OpenWireBenchClient.BodySize(reply));
        }
    }

    private static async Task RespondAsync(MessageConsumer consumer, MessageProducer producer, BenchOptions options, CancellationToken cancellationToken)
    {
        var mode = options.Persistent ? DeliveryMode.Persistent : DeliveryMode.NonPersistent;
        try
        {
            while (await consumer.ReceiveAsync(cancellationToken) is { } request)
            {
                if (request.ReplyTo is { } replyTo)
                {
                    var reply = new BytesMessage(request is BytesMessage b ? b.Body : []) { CorrelationId = request.MessageId };
                    await producer.SendAsync(replyTo, reply, mode, cancellationToken: cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (MessagingException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over and the connection is closing under the responder.
        }
    }

    private static long Deadline(BenchOptions options) =>
        options.Duration is TimeSpan d ? Stopwatch.GetTimestamp() + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;

    private static List<KeyValuePair<string, string>> Settings(BenchOptions options, string workers, int count) =>
    [
        new(workers, count.ToString(CultureInfo.InvariantCulture)),
        new("size", options.Size.ToString(CultureInfo.InvariantCulture)),
        new("persistent", options.Persistent ? "true" : "false"),
        new("send", options.SyncSends ? "sync" : "async"),
        new("transacted", options.TransactedBatch.ToString(CultureInfo.InvariantCulture)),
        new("destination", options.Destination),
        new("protocol", options.IsStomp ? "stomp" : "openwire"),
    ];
}
