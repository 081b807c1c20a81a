using System.Globalization;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Bench;

/// <summary>
/// Vertical scale: thousands of idle OpenWire connections (opened by a real <c>ferry bench connections</c>
/// process) on one real <c>ferry broker</c> process. The broker's thread count stays bounded (no thread per
/// connection) and every sampled connection still round-trips a message after the hold.
/// </summary>
public sealed class IdleConnectionScaleTests
{
    // The thread pool on a small machine, timers, the journal writer, the accept loops: a few dozen at most,
    // whatever the number of connections.
    private const int ThreadBound = 64;

    [Fact]
    public async Task Thousands_of_idle_connections_keep_the_broker_threads_bounded_and_every_sample_round_trips()
    {
        // Both processes need one descriptor per connection: stay inside what the machine allows.
        int connections = Math.Min(3000, HardOpenFileLimit() - 500);
        Assert.True(connections >= 1000, $"the open-file hard limit allows only {connections} connections");
        await using var broker = await BrokerProcess.StartAsync();
        await using var run = CommandProcess.Bench("connections", "--url", broker.Uri, "--connections", connections.ToString(CultureInfo.InvariantCulture),
            "--hold", "3", "--check", "50", "--receive-timeout", "30", "--broker-pid", broker.ProcessId.ToString(CultureInfo.InvariantCulture));
        var summary = await run.SummaryAsync(TimeSpan.FromMinutes(4));
        Assert.Equal(connections, CommandProcess.Number(summary, "opened"));
        Assert.Equal(50, CommandProcess.Number(summary, "check_ok"));
        double threads = CommandProcess.Number(summary, "broker_threads");
        Assert.True(threads <= ThreadBound, $"broker threads with {connections} connections: {threads} (bound {ThreadBound})");
        broker.AssertNoErrors();
    }

    private static int HardOpenFileLimit()
    {
        foreach (string line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                string hard = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];
                return hard == "unlimited" ? int.MaxValue : int.Parse(hard, CultureInfo.InvariantCulture);
            }
        }
        return 1024;
    }
}
