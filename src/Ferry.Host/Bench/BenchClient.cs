namespace Ferry.Host.Bench;

/// <summary>A message as a bench consumer sees it: its body size and the producer's send timestamp (0 if absent).</summary>
internal readonly record struct BenchReceipt(int Bytes, long SentMicros);

/// <summary>One producer on its own connection, over OpenWire (Ferry.Client) or STOMP.</summary>
internal interface IBenchSender : IAsyncDisposable
{
    /// <summary>Sends <paramref name="body"/> carrying <paramref name="sentMicros"/>; a sync send returns once the broker has it.</summary>
    Task SendAsync(byte[] body, long sentMicros, CancellationToken cancellationToken);

    Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>Returns once the broker has taken everything sent so far (async sends are one-way).</summary>
    Task DrainAsync(CancellationToken cancellationToken);
}

/// <summary>One consumer on its own connection, subscribed when created.</summary>
internal interface IBenchReceiver : IAsyncDisposable
{
    /// <summary>The next message, or null if none came within <paramref name="timeout"/>.</summary>
    ValueTask<BenchReceipt?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken);

    Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Ends the subscription once the consumer is done, so that what the broker prefetched to it goes
    /// to the consumers still receiving (an open consumer keeps its prefetched messages, on ActiveMQ too).
    /// </summary>
    Task StopAsync(CancellationToken cancellationToken);
}

/// <summary>Picks the protocol from the URL: <c>stomp://</c> speaks STOMP 1.2, anything else OpenWire.</summary>
internal static class BenchClients
{
    /// <summary>The message property (STOMP: header) carrying the send time in microseconds since the Unix epoch.</summary>
    public const string SentProperty = "FerryBenchSent";

    public static Task<IBenchSender> CreateSenderAsync(BenchOptions options, CancellationToken cancellationToken) =>
        options.IsStomp ? StompBenchClient.CreateSenderAsync(options, cancellationToken) : OpenWireBenchClient.CreateSenderAsync(options, cancellationToken);

    public static Task<IBenchReceiver> CreateReceiverAsync(BenchOptions options, CancellationToken cancellationToken) =>
        options.IsStomp ? StompBenchClient.CreateReceiverAsync(options, cancellationToken) : OpenWireBenchClient.CreateReceiverAsync(options, cancellationToken);
}
