using System.Collections.Concurrent;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Durability;

/// <summary>
/// A producer sends persistent messages with sync sends through the Java client's failover
/// transport while the broker is killed with SIGKILL at random points and restarted on the same
/// port and data. Afterwards every message whose send returned is received exactly once.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Messages = 600;
    private const int Kills = 4;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_acknowledged_send_survives_repeated_SIGKILL(bool tearTheTail)
    {
        string data = Directory.CreateTempSubdirectory("ferry-crash-").FullName;
        var random = new Random();
        var sent = new ConcurrentBag<int>();
        BrokerProcess? broker = null;
        try
        {
            broker = await BrokerProcess.StartOnAsync(0, data);
            int port = broker.Port;
            string queue = "crash." + Guid.NewGuid().ToString("N");
            string failoverUrl = $"failover:(tcp://127.0.0.1:{port})?initialReconnectDelay=50&maxReconnectDelay=500&maxReconnectAttempts=200&timeout=60000";
            using var producer = await JavaInterop.StartDurabilityAsync(failoverUrl, "produce", line =>
            {
                if (line.StartsWith("SENT ", StringComparison.Ordinal))
                {
                    sent.Add(int.Parse(line[5..], System.Globalization.CultureInfo.InvariantCulture));
                }
            }, queue, Messages.ToString(System.Globalization.CultureInfo.InvariantCulture));

            for (int kill = 0; kill < Kills; kill++)
            {
                int target = Math.Min(Messages - 1, (kill + 1) * Messages / (Kills + 2) + random.Next(0, Messages / (Kills * 3)));
                await WaitFor.ConditionAsync(() => sent.Count >= target || producer.HasExited, TimeSpan.FromSeconds(90), $"{target} sends before kill {kill}");
                broker.Kill();
                await broker.WaitForExitAsync(TimeSpan.FromSeconds(10));
                await broker.DisposeAsync();
                output.WriteLine($"kill {kill} after {sent.Count} acknowledged sends");
                if (tearTheTail)
                {
                    output.WriteLine("torn tail: " + JournalFiles.TearTail(data, random));
                }
                broker = await BrokerProcess.StartOnAsync(port, data);
                if (tearTheTail)
                {
                    await broker.WaitForLogAsync("cut off a torn or corrupt tail", TimeSpan.FromSeconds(30));
                }
            }
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
            {
                await producer.WaitForExitAsync(cts.Token);
            }
            Assert.Equal(0, producer.ExitCode);
            Assert.Equal(Messages, sent.Count);

            var (code, text) = await JavaInterop.RunDurabilityAsync(broker.Uri, "drain", queue);
            Assert.True(code == 0, text);
            var received = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("RECV crash-", StringComparison.Ordinal))
                .Select(l => int.Parse(l["RECV crash-".Length..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var duplicates = received.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(duplicates.Count == 0, "received more than once: " + string.Join(",", duplicates));
            var missing = sent.Except(received).Order().ToList();
            Assert.True(missing.Count == 0, "acknowledged but lost: " + string.Join(",", missing));
            broker.AssertNoErrors();
        }
        finally
        {
            if (broker is not null)
            {
                await broker.DisposeAsync();
            }
            Directory.Delete(data, recursive: true);
        }
    }
}

/// <summary>Simulates a torn write: a partial record and garbage after the last complete one.</summary>
internal static class JournalFiles
{
    public static string TearTail(string dataDirectory, Random random)
    {
        var segments = Directory.GetFiles(dataDirectory, "*", SearchOption.AllDirectories)
            .Where(f => f.Contains("journal", StringComparison.OrdinalIgnoreCase) && new FileInfo(f).Length > 0)
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (segments.Count == 0)
        {
            return "no segment";
        }
        string last = segments[^1];
        var garbage = new byte[random.Next(1, 300)];
        random.NextBytes(garbage);
        using var file = new FileStream(last, FileMode.Append, FileAccess.Write);
        // A plausible length prefix, then fewer bytes than it announces: a record cut mid-write.
        file.Write([0, 0, 4, 0]);
        file.Write(garbage);
        return $"{Path.GetFileName(last)} +{garbage.Length + 4} bytes";
    }
}
