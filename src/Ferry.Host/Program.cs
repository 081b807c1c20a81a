using System.Net.Sockets;
using Ferry.Broker;
using Ferry.Host;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

return await Cli.RunAsync(args);

namespace Ferry.Host
{
    /// <summary>The <c>ferry</c> command line.</summary>
    internal static class Cli
    {
        private const string Usage = """
            usage: ferry bench producer|consumer|roundtrip|connections [options]   (ferry bench --help)
                   ferry broker [--config FILE] [--bind URI]... [--data-dir DIR] [--broker-name NAME] [--log-level LEVEL]

              --config FILE       JSON file bound to BrokerOptions (brokerName, dataDirectory, transportConnectors, ...)
              --bind URI          listen on URI (tcp://host:port or nio://host:port, with ?wireFormat.* options); repeatable
              --data-dir DIR      data directory (default ./data)
              --broker-name NAME  broker name (default localhost)
              --log-level LEVEL   Trace, Debug, Information (default), Warning, Error

            Environment variables FERRY_<Option> (e.g. FERRY_BrokerName) override the file; flags override both.
            """;

        public static async Task<int> RunAsync(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            if (args[0] == "bench")
            {
                if (args.Length == 1 || args[1] is "-h" or "--help")
                {
                    Console.WriteLine(Bench.BenchCommand.Usage);
                    return args.Length == 1 ? 2 : 0;
                }
                return await Bench.BenchCommand.RunAsync(args[1..]);
            }
            if (args[0] != "broker")
            {
                Console.Error.WriteLine($"ferry: unknown command '{args[0]}'");
                Console.Error.WriteLine(Usage);
                return 2;
            }
            BrokerOptions options;
            LogLevel level;
            try
            {
                (options, level) = ParseBrokerArgs(args[1..]);
                options.Validate();
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or IOException or InvalidDataException)
            {
                Console.Error.WriteLine($"ferry: invalid configuration: {ex.Message}");
                return 2;
            }
            return await RunBrokerAsync(options, level);
        }

        internal static (BrokerOptions Options, LogLevel Level) ParseBrokerArgs(string[] args)
        {
            string? configFile = null;
            var binds = new List<string>();
            string? dataDir = null, name = null;
            var level = LogLevel.Information;
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--config": configFile = Value(); break;
                    case "--bind": binds.Add(Value()); break;
                    case "--data-dir": dataDir = Value(); break;
                    case "--broker-name": name = Value(); break;
                    case "--log-level":
                        string l = Value();
                        level = Enum.TryParse<LogLevel>(l, ignoreCase: true, out var parsed) ? parsed : throw new ArgumentException($"unknown log level '{l}'");
                        break;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            var builder = new ConfigurationBuilder();
            if (configFile is not null)
            {
                if (!File.Exists(configFile))
                {
                    throw new ArgumentException($"config file '{configFile}' not found");
                }
                builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
            }
            builder.AddEnvironmentVariables("FERRY_");
            var configuration = builder.Build();
            var options = new BrokerOptions();
            configuration.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
            if (binds.Count > 0)
            {
                options.TransportConnectors = binds.Select((uri, n) => new TransportConnectorOptions { Name = "openwire" + (n == 0 ? "" : n.ToString(System.Globalization.CultureInfo.InvariantCulture)), Uri = uri }).ToList();
            }
            if (options.TransportConnectors.Count == 0)
            {
                options.TransportConnectors.Add(new TransportConnectorOptions());
            }
            options.DataDirectory = dataDir ?? options.DataDirectory;
            options.BrokerName = name ?? options.BrokerName;
            return (options, level);
        }

        private static async Task<int> RunBrokerAsync(BrokerOptions options, LogLevel level)
        {
            using var loggerFactory = LoggerFactory.Create(b => b
                .SetMinimumLevel(level)
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                    o.UseUtcTimestamp = true;
                }));
            var logger = loggerFactory.CreateLogger("Ferry.Host");
            using var stop = new StopSignal();

            Directory.CreateDirectory(options.DataDirectory);
            // Shared-storage master/slave: whoever holds the lock (data directory or database) serves; the others wait.
            await using var brokerLock = Persistence.CreateLock(options, loggerFactory);
            try
            {
                await brokerLock.AcquireAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                logger.LogInformation("Slave broker {Name} stopped while waiting for the lock", options.BrokerName);
                return 0;
            }

            BrokerService? broker = null;
            try
            {
                broker = new BrokerService(options, loggerFactory, Persistence.CreateStore(options, loggerFactory, brokerLock));
                await broker.StartAsync(stop.Token);
            }
            catch (SocketException ex)
            {
                logger.LogCritical("Cannot start broker {Name}: {Reason}", options.BrokerName, ex.SocketErrorCode == SocketError.AddressAlreadyInUse ? "address already in use" : ex.Message);
                if (broker is not null)
                {
                    await broker.DisposeAsync();
                }
                return 1;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException or OperationCanceledException or System.Data.Common.DbException)
            {
                logger.LogCritical("Cannot start broker {Name}: {Reason}", options.BrokerName, ex.Message);
                if (broker is not null)
                {
                    await broker.DisposeAsync();
                }
                return 1;
            }
            broker.AnnounceMaster();
            var stopped = Task.Delay(Timeout.Infinite, stop.Token);
            var finished = await Task.WhenAny(stopped, brokerLock.Lost);
            if (finished == brokerLock.Lost)
            {
                // Fail-stop: never serve without the lock.
                logger.LogCritical("Broker {Name} lost its lock ({Reason}); stopping its connectors now", options.BrokerName, await brokerLock.Lost);
                await broker.DisposeAsync();
                return 3;
            }
            await broker.DisposeAsync();
            return 0;
        }
    }
}
