using Ferry.Client.Internal;
using Ferry.Protocol.Transport;

namespace Ferry.Client;

/// <summary>
/// Creates connections to one broker (or, with a failover URI, to a set of brokers).
/// <code>
/// var factory = new ConnectionFactory("tcp://127.0.0.1:61616?jms.prefetchPolicy.queuePrefetch=100");
/// await using var connection = await factory.CreateConnectionAsync();
/// await connection.StartAsync();
/// </code>
/// </summary>
public sealed class ConnectionFactory
{
    private readonly Func<string, IOpenWireTransport> _createTransport;
    private readonly TimeProvider _time;

    /// <summary>A factory for <paramref name="uri"/>; see <see cref="ConnectionOptions.Parse"/> for its options.</summary>
    /// <exception cref="FormatException">The URI or one of its options is invalid.</exception>
    public ConnectionFactory(string uri) : this(ConnectionOptions.Parse(uri)) { }

    /// <summary>A factory with explicit options.</summary>
    public ConnectionFactory(ConnectionOptions options) : this(options, TimeProvider.System, null) { }

    internal ConnectionFactory(ConnectionOptions options, TimeProvider time, Func<string, IOpenWireTransport>? createTransport)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _time = time;
        _createTransport = createTransport ?? (uri => ClientTransport.Create(uri, time));
    }

    /// <summary>The options every connection of this factory uses.</summary>
    public ConnectionOptions Options { get; }

    /// <summary>
    /// Connects, exchanges wire formats and registers the connection (ConnectionInfo) with the broker.
    /// The connection starts stopped: call <see cref="Connection.StartAsync"/> to receive messages.
    /// </summary>
    /// <exception cref="MessagingException">The broker refused the connection (e.g. a client id in use).</exception>
    public Task<Connection> CreateConnectionAsync(CancellationToken cancellationToken = default) =>
        Connection.ConnectAsync(Options, _createTransport(Options.TransportUri), _time, cancellationToken);
}
