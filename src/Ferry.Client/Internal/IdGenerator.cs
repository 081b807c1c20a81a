using System.Globalization;

namespace Ferry.Client.Internal;

/// <summary>Connection ids in the Java client's form: <c>ID:&lt;host&gt;-&lt;pid&gt;-&lt;start millis&gt;-&lt;instance&gt;:&lt;n&gt;</c>.</summary>
internal static class IdGenerator
{
    private static readonly string Prefix = string.Create(CultureInfo.InvariantCulture,
        $"ID:{Sanitize(Environment.MachineName)}-{Environment.ProcessId}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}-{Random.Shared.Next(1, 1_000_000)}");
    private static long _sequence;

    public static string NextConnectionId() => string.Create(CultureInfo.InvariantCulture, $"{Prefix}:{Interlocked.Increment(ref _sequence)}");

    private static string Sanitize(string host) => host.Length == 0 ? "localhost" : host.Replace(':', '-');
}
