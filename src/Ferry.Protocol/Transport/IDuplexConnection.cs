using System.IO.Pipelines;

namespace Ferry.Protocol.Transport;

/// <summary>
/// A byte stream in each direction, knowing nothing of protocols. Input is read by one loop,
/// Output written by one loop; the transport moves bytes between the pipes and the wire.
/// </summary>
public interface IDuplexConnection : IAsyncDisposable
{
    PipeReader Input { get; }
    PipeWriter Output { get; }
    string RemoteAddress { get; }
    string LocalAddress { get; }

    /// <summary>Drops the connection at once (no graceful flush): used for protocol errors.</summary>
    void Abort();
}
