using Ferry.Client;

namespace Ferry.Host.Bench;

/// <summary>Bench producers and consumers over OpenWire with Ferry.Client, against any OpenWire broker URL.</summary>
internal static class OpenWireBenchClient
{
    public static ConnectionFactory Factory(BenchOptions options)
    {
        var parsed = ConnectionOptions.Parse(options.Url);
        var connection = options.Send switch
        {
            SendMode.Sync => parsed with { AlwaysSyncSend = true, UseAsyncSend = false },
            SendMode.Async => parsed with { UseAsyncSend = true, AlwaysSyncSend = false },
            _ => parsed,
        };
        if (options.Prefetch is int prefetch)
        {
            connection = connection with
            {
                Prefetch = connection.Prefetch with { QueuePrefetch = prefetch, TopicPrefetch = prefetch, DurableTopicPrefetch = prefetch },
            };
        }
        return new ConnectionFactory(connection);
    }

    public static Destination Destination(BenchOptions options) =>
        options.IsTopic ? new Topic(options.DestinationName) : new Client.Queue(options.DestinationName);

    public static async Task<IBenchSender> CreateSenderAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var connection = await Factory(options).CreateConnectionAsync(cancellationToken);
        try
        {
            await connection.StartAsync(cancellationToken);
            var session = await connection.CreateSessionAsync(options.TransactedBatch > 0 ? AcknowledgeMode.Transacted : AcknowledgeMode.Auto, cancellationToken);
            var producer = await session.CreateProducerAsync(Destination(options), cancellationToken);
            producer.DeliveryMode = options.Persistent ? DeliveryMode.Persistent : DeliveryMode.NonPersistent;
            return new Sender(connection, session, producer);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public static async Task<IBenchReceiver> CreateReceiverAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var connection = await Factory(options).CreateConnectionAsync(cancellationToken);
        try
        {
            await connection.StartAsync(cancellationToken);
            var session = await connection.CreateSessionAsync(options.TransactedBatch > 0 ? AcknowledgeMode.Transacted : AcknowledgeMode.Auto, cancellationToken);
            var consumer = await session.CreateConsumerAsync(Destination(options), cancellationToken: cancellationToken);
            return new Receiver(connection, session, consumer);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The send timestamp a bench producer put in <paramref name="message"/>, or 0.</summary>
    public static long SentMicros(Message message) =>
        message.Properties[BenchClients.SentProperty] is long sent ? sent : 0;

    public static int BodySize(Message message) => message switch
    {
        BytesMessage b => b.Body.Length,
        TextMessage t => t.Text?.Length ?? 0,
        _ => 0,
    };

    private sealed class Sender(Connection connection, Session session, MessageProducer producer) : IBenchSender
    {
        public Task SendAsync(byte[] body, long sentMicros, CancellationToken cancellationToken)
        {
            var message = new BytesMessage(body);
            message.Properties[BenchClients.SentProperty] = sentMicros;
            return producer.SendAsync(message, cancellationToken);
        }

        public Task CommitAsync(CancellationToken cancellationToken) => session.CommitAsync(cancellationToken);

        // Closing the producer is a request the broker answers after every send before it.
        public Task DrainAsync(CancellationToken cancellationToken) => producer.CloseAsync(cancellationToken);

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }

    private sealed class Receiver(Connection connection, Session session, MessageConsumer consumer) : IBenchReceiver
    {
        public async ValueTask<BenchReceipt?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            var message = await consumer.ReceiveAsync(timeout, cancellationToken);
            return message is null ? null : new BenchReceipt(BodySize(message), SentMicros(message));
        }

        public Task CommitAsync(CancellationToken cancellationToken) => session.CommitAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => consumer.CloseAsync(cancellationToken);

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
