using System.Globalization;

namespace Ferry.Host.Bench;

/// <summary>How sends wait for the broker.</summary>
internal enum SendMode
{
    /// <summary>The client's default: persistent sends wait for the broker's receipt, non-persistent ones do not.</summary>
    Default,
    Sync,
    Async,
}

/// <summary>The options of <c>ferry bench</c>, parsed from its command line.</summary>
internal sealed record BenchOptions
{
    public const string Usage = """
        usage: ferry bench producer|consumer|roundtrip|connections [options]

          --url URL             broker: tcp://host:port, failover:(...), or stomp://host:port (producer/consumer)
                                (default tcp://127.0.0.1:61616)
          --destination D       queue://NAME or topic://NAME (default queue://ferry.bench)
          --messages N          messages per producer / per consumer / per requester (default 10000;
                                with --duration alone: no limit)
          --duration S          stop after S seconds (whichever of count and duration comes first)
          --size BYTES          message body size (default 1024)
          --persistent | --non-persistent   delivery mode (default persistent)
          --send sync|async     wait for the broker's receipt of each send, or not (default: the client's
                                default, sync for persistent, async for non-persistent)
          --transacted N        transacted sessions, commit every N messages (default 0: not transacted)
          --producers N         producers (roundtrip: requesters), one connection each (default 1)
          --consumers N         consumers (roundtrip: responders), one connection each (default 1)
          --prefetch N          consumer prefetch (default: the client's, 1000 for queues)
          --receive-timeout S   a consumer gives up after S seconds without a message (default 30)
          --connections N       connections: how many to open (default 1000)
          --hold S              connections: how long to hold them open (default 5)
          --open-concurrency N  connections: how many opens in flight at once (default 64)
          --check N             connections: round-trip one message on N of them at the end (default 10)
          --broker-pid PID      connections: also report that process's RSS and threads (from /proc)
          --quiet               no progress lines

        Progress goes to stderr once per second; the summary goes to stdout, ending with one line
        "summary: key=value ..." for scripts.
        """;

    public required string Verb { get; init; }
    public string Url { get; init; } = "tcp://127.0.0.1:61616";
    public string Destination { get; init; } = "queue://ferry.bench";
    /// <summary>Messages per producer/consumer/requester; null = bounded by <see cref="Duration"/> only.</summary>
    public long? Messages { get; init; }
    public TimeSpan? Duration { get; init; }
    public int Size { get; init; } = 1024;
    public bool Persistent { get; init; } = true;
    public SendMode Send { get; init; } = SendMode.Default;
    public int TransactedBatch { get; init; }
    public int Producers { get; init; } = 1;
    public int Consumers { get; init; } = 1;
    public int? Prefetch { get; init; }
    public TimeSpan ReceiveTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public int Connections { get; init; } = 1000;
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(5);
    public int OpenConcurrency { get; init; } = 64;
    public int Check { get; init; } = 10;
    public int? BrokerPid { get; init; }
    public bool Quiet { get; init; }

    public bool IsTopic => Destination.StartsWith("topic://", StringComparison.Ordinal);
    public string DestinationName => Destination[(Destination.IndexOf("://", StringComparison.Ordinal) + 3)..];
    public bool IsStomp => Url.StartsWith("stomp://", StringComparison.Ordinal);

    /// <summary>Whether a sync send is used (explicitly, or by the client's default for the delivery mode).</summary>
    public bool SyncSends => Send == SendMode.Sync || (Send == SendMode.Default && Persistent && TransactedBatch == 0);

    /// <exception cref="ArgumentException">An unknown verb or option, or a bad value.</exception>
    public static BenchOptions Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("producer" or "consumer" or "roundtrip" or "connections"))
        {
            throw new ArgumentException(args.Length == 0 ? "bench needs a command" : $"unknown bench command '{args[0]}'");
        }
        var o = new BenchOptions { Verb = args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int Int(int minimum)
            {
                string v = Value();
                return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= minimum
                    ? n
                    : throw new ArgumentException($"{name} must be an integer of at least {minimum}, not '{v}'");
            }
            TimeSpan Seconds()
            {
                string v = Value();
                return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0
                    ? TimeSpan.FromSeconds(s)
                    : throw new ArgumentException($"{name} must be a positive number of seconds, not '{v}'");
            }
            o = name switch
            {
                "--url" => o with { Url = Value() },
                "--destination" => o with { Destination = CheckDestination(Value()) },
                "--messages" => o with { Messages = Int(1) },
                "--duration" => o with { Duration = Seconds() },
                "--size" => o with { Size = Int(0) },
                "--persistent" => o with { Persistent = true },
                "--non-persistent" => o with { Persistent = false },
                "--send" => o with
                {
                    Send = Value() switch
                    {
                        "sync" => SendMode.Sync,
                        "async" => SendMode.Async,
                        var v => throw new ArgumentException($"--send must be sync or async, not '{v}'"),
                    },
                },
                "--transacted" => o with { TransactedBatch = Int(0) },
                "--producers" => o with { Producers = Int(1) },
                "--consumers" => o with { Consumers = Int(1) },
                "--prefetch" => o with { Prefetch = Int(0) },
                "--receive-timeout" => o with { ReceiveTimeout = Seconds() },
                "--connections" => o with { Connections = Int(1) },
                "--hold" => o with { Hold = Seconds() },
                "--open-concurrency" => o with { OpenConcurrency = Int(1) },
                "--check" => o with { Check = Int(0) },
                "--broker-pid" => o with { BrokerPid = Int(1) },
                "--quiet" => o with { Quiet = true },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }
        if (o.Messages is null && o.Duration is null)
        {
            o = o with { Messages = 10000 };
        }
        if (o.IsStomp && o.Verb is not ("producer" or "consumer"))
        {
            throw new ArgumentException($"bench {o.Verb} speaks OpenWire only; stomp:// is for producer and consumer");
        }
        return o;
    }

    private static string CheckDestination(string value) =>
        (value.StartsWith("queue://", StringComparison.Ordinal) || value.StartsWith("topic://", StringComparison.Ordinal)) && value.Length > 8
            ? value
            : throw new ArgumentException($"--destination must be queue://NAME or topic://NAME, not '{value}'");
}
