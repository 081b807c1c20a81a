using System.IO.Pipelines;

namespace Ferry.Protocol.Transport;

/// <summary>Two connected in-process ends, for fast engine tests without sockets.</summary>
public sealed class InMemoryConnection : IDuplexConnection
{
    private readonly Pipe _incoming;
    private readonly Pipe _outgoing;

    private InMemoryConnection(Pipe incoming, Pipe outgoing, string local, string remote)
    {
        _incoming = incoming;
        _outgoing = outgoing;
        LocalAddress = local;
        RemoteAddress = remote;
    }

    public static (InMemoryConnection Client, InMemoryConnection Server) CreatePair(string name = "memory")
    {
        var options = new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        return (new InMemoryConnection(toClient, toServer, name + ":client", name + ":server"),
                new InMemoryConnection(toServer, toClient, name + ":server", name + ":client"));
    }

    public PipeReader Input => _incoming.Reader;
    public PipeWriter Output => _outgoing.Writer;
    public string RemoteAddress { get; }
    public string LocalAddress { get; }

    public void Abort()
    {
        _outgoing.Writer.Complete(new IOException("connection aborted"));
        _incoming.Reader.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        await _outgoing.Writer.CompleteAsync();
        await _incoming.Reader.CompleteAsync();
    }
}
