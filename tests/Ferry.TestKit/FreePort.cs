using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ferry.TestKit;

/// <summary>
/// Loopback ports known in advance: for a process that binds later (a slave, a broker started after its
/// clients' URL is written) or for a port nothing listens on. Port-0 binds and outgoing connections take
/// their ports from the ephemeral range (<c>ip_local_port_range</c>), so a port the OS picked and released can
/// be taken again by another test's broker or connection before its owner binds it. These come from below
/// that range instead, each handed out once per test process, and are checked free when picked.
/// </summary>
public static class FreePort
{
    private const int First = 20000;
    private static readonly int End = EphemeralLow();
    private static int _next = First + Environment.ProcessId * 211 % Math.Max(1, End - First);

    public static int Pick()
    {
        if (End - First < 1000)
        {
            return PickEphemeral(); // little or no room below the ephemeral range on this machine
        }
        for (int attempt = 0; attempt < End - First; attempt++)
        {
            int port = First + (Interlocked.Increment(ref _next) - First) % (End - First);
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // taken (another process, or a listener of this one): the next
            }
        }
        throw new InvalidOperationException($"no free loopback port in {First}..{End - 1}");
    }

    private static int PickEphemeral()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int EphemeralLow()
    {
        try
        {
            string range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            return int.Parse(range.Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768; // Linux's default
        }
    }
}
