using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Protocol.Transport;

/// <summary>Makes the client transport a URI names: <c>tcp://</c> or <c>nio://</c> → one link; <c>failover:(…)</c> → a failover transport.</summary>
public static class TransportFactory
{
    /// <summary>
    /// Parses <paramref name="uri"/> (unknown options are a <see cref="FormatException"/>) and returns an
    /// unstarted transport; call <see cref="IOpenWireTransport.StartAsync"/> to connect.
    /// </summary>
    public static IOpenWireTransport Create(string uri, TimeProvider? time = null, ILoggerFactory? loggers = null)
    {
        var parsed = TransportUri.Parse(uri);
        loggers ??= NullLoggerFactory.Instance;
        if (TcpTransportOptions.TcpSchemes.Contains(parsed.Scheme) && !parsed.IsComposite)
        {
            return new OpenWireTransport(TcpTransportOptions.From(parsed), time, loggers.CreateLogger<OpenWireTransport>());
        }
        if (parsed.Scheme == "failover")
        {
            return new FailoverTransport(FailoverOptions.From(parsed), time, loggers);
        }
        throw new FormatException($"Transport URI '{uri}' has scheme '{parsed.Scheme}': a client connects with tcp://, nio:// or failover:(...)");
    }
}
