using System.Net;
using System.Net.Sockets;

namespace Ferry.TestKit;

/// <summary>A loopback port free right now, for a process that must bind a port known in advance (a slave).</summary>
public static class FreePort
{
    public static int Pick()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
