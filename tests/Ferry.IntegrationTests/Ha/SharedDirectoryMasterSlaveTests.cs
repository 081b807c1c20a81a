using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Ha;

/// <summary>
/// Shared-storage master/slave on one data directory: a master and two slaves (real processes),
/// the master killed with SIGKILL while the Java client and Ferry.Client run on failover URIs; a slave takes
/// over the same journal and every acknowledged send is delivered.
/// </summary>
public sealed class SharedDirectoryMasterSlaveTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_slave_takes_over_when_the_master_is_killed_and_no_acknowledged_message_is_lost()
    {
        string data = Directory.CreateTempSubdirectory("ferry-ha-").FullName;
        try
        {
            await MasterSlaveScenario.RunAsync(output, (_, port) => BrokerProcess.Launch(["--bind", $"tcp://127.0.0.1:{port}"], data));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task A_waiting_slave_stops_cleanly_on_SIGTERM()
    {
        string data = Directory.CreateTempSubdirectory("ferry-ha-").FullName;
        try
        {
            await using var master = await BrokerProcess.StartOnAsync(0, data);
            await using var slave = BrokerProcess.Launch(["--bind", "tcp://127.0.0.1:0"], data);
            await slave.WaitForLogAsync("Broker is a slave", TimeSpan.FromSeconds(30));
            Assert.Equal(0, await slave.StopAsync(TimeSpan.FromSeconds(20)));
            Assert.DoesNotContain(slave.Lines, l => l.Contains("listening on", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}

/// <summary>
/// Split brain: a master frozen with SIGSTOP past its lease is replaced by a slave; resumed with
/// SIGCONT it accepts no further send, stops serving, and nothing it tried to write reaches the store.
/// </summary>
public sealed class SplitBrainTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_master_frozen_past_its_lease_is_fenced_off_when_it_resumes()
    {
        string data = Directory.CreateTempSubdirectory("ferry-split-").FullName;
        string config = Path.Combine(Directory.CreateTempSubdirectory("ferry-split-config-").FullName, "broker.json");
        await File.WriteAllTextAsync(config, """{ "LockAcquireSleepInterval": 200, "LockKeepAlivePeriod": 500, "LockLeaseDuration": 2000 }""");
        try
        {
            await RunAsync(output, port => BrokerProcess.Launch(["--bind", $"tcp://127.0.0.1:{port}", "--config", config], data), "expired without renewal");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>The split-brain scenario for any store: <paramref name="launch"/> starts a broker of the pair on a port.</summary>
    internal static async Task RunAsync(ITestOutputHelper output, Func<int, BrokerProcess> launch, string takeoverLog)
    {
        BrokerProcess? master = null;
        BrokerProcess? slave = null;
        try
        {
            master = launch(FreePort.Pick());
            await master.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
            int slavePort = FreePort.Pick();
            slave = launch(slavePort);
            await slave.WaitForLogAsync("Broker is a slave", TimeSpan.FromSeconds(30));
            var queue = Ferry.Protocol.OpenWire.Commands.Destination.Queue("split." + Guid.NewGuid().ToString("N"));
            await using var onOldMaster = await OpenWireTestClient.ConnectAsync("127.0.0.1", master.Port);
            var oldProducer = await onOldMaster.AddProducerAsync(queue);
            await onOldMaster.SendTextAsync(oldProducer, queue, "before", persistent: true);

            var frozenAt = System.Diagnostics.Stopwatch.GetTimestamp();
            master.Pause();
            await slave.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"slave serving {System.Diagnostics.Stopwatch.GetElapsedTime(frozenAt).TotalMilliseconds:F0} ms after the master froze (lease 2000 ms)");
            Assert.Contains(slave.Lines, l => l.Contains(takeoverLog, StringComparison.Ordinal));

            await using (var onNewMaster = await OpenWireTestClient.ConnectAsync("127.0.0.1", slave.Port))
            {
                var producer = await onNewMaster.AddProducerAsync(queue);
                await onNewMaster.SendTextAsync(producer, queue, "after takeover", persistent: true);
            }

            master.Resume();
            bool staleSendRefused;
            try
            {
                var response = await onOldMaster.RequestAsync(StaleMessage(oldProducer, queue), TimeSpan.FromSeconds(20));
                staleSendRefused = response is Ferry.Protocol.OpenWire.Commands.ExceptionResponse;
                output.WriteLine("stale send answered: " + response.GetType().Name);
            }
            catch (Exception ex) when (ex is IOException or TimeoutException or InvalidOperationException)
            {
                staleSendRefused = true; // the stale master dropped the connection instead of answering
                output.WriteLine("stale send failed: " + ex.Message);
            }
            Assert.True(staleSendRefused, "the resumed stale master accepted a send");
            Assert.Equal(3, await master.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains(master.Lines, l => l.Contains("Lost the broker lock", StringComparison.Ordinal));
            foreach (var line in master.Lines.TakeLast(12))
            {
                output.WriteLine("old master: " + line);
            }

            await using var reader = await OpenWireTestClient.ConnectAsync("127.0.0.1", slave.Port);
            await reader.SubscribeAsync(queue);
            var texts = new List<string>();
            while (true)
            {
                try
                {
                    var dispatch = await reader.ReceiveAsync(TimeSpan.FromSeconds(2));
                    texts.Add(OpenWireTestClient.TextOf(dispatch.Message!));
                    reader.Ack(dispatch);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                if (texts.Count > 10)
                {
                    break;
                }
            }
            Assert.Equal(["before", "after takeover"], texts);
            slave.AssertNoErrors();
        }
        finally
        {
            master?.Resume();
            if (master is not null)
            {
                await master.DisposeAsync();
            }
            if (slave is not null)
            {
                await slave.DisposeAsync();
            }
        }
    }

    private static Ferry.Protocol.OpenWire.Commands.Message StaleMessage(Ferry.Protocol.OpenWire.Commands.ProducerId producer, Ferry.Protocol.OpenWire.Commands.Destination queue)
    {
        var message = OpenWireTestClient.TextMessage(producer, 1000, queue, "stale send");
        message.Persistent = true;
        return message;
    }
}
