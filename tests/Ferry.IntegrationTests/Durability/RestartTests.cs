using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Durability;

/// <summary>State that must survive a broker killed with SIGKILL and restarted on the same data.</summary>
public sealed class RestartTests(ITestOutputHelper output)
{
    private async Task RunOkAsync(string url, string scenario, params string[] arguments)
    {
        var (code, text) = await JavaInterop.RunDurabilityAsync(url, scenario, arguments);
        output.WriteLine(text);
        Assert.True(code == 0, $"{scenario} failed ({code}):\n{text}");
    }

    [Fact]
    public async Task Durable_subscription_and_its_messages_survive_a_killed_broker()
    {
        string data = Directory.CreateTempSubdirectory("ferry-durable-").FullName;
        try
        {
            var first = await BrokerProcess.StartOnAsync(0, data);
            int port = first.Port;
            string topic = "durable.restart." + Guid.NewGuid().ToString("N");
            await RunOkAsync(first.Uri, "durable-create", "dur-client", "sub1", topic);
            await RunOkAsync(first.Uri, "durable-publish", topic, "20");
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await first.DisposeAsync();

            await using var second = await BrokerProcess.StartOnAsync(port, data);
            await second.WaitForLogAsync("Recovered 20 message(s) and 1 durable subscription(s)", TimeSpan.FromSeconds(10));
            await RunOkAsync(second.Uri, "durable-receive", "dur-client", "sub1", topic, "20");
            second.AssertNoErrors();
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Producer_blocked_by_flow_control_resumes_when_a_consumer_drains()
    {
        string config = Path.Combine(Directory.CreateTempSubdirectory("ferry-flow-").FullName, "broker.json");
        await File.WriteAllTextAsync(config, """{ "DestinationMemoryLimit": 65536, "SendFailIfNoSpaceAfterTimeout": 60000 }""");
        await using var broker = await BrokerProcess.StartAsync("", "--config", config);
        var (code, text) = await JavaInterop.RunDurabilityAsync(broker.Uri, "flowcontrol", "150", "4096");
        output.WriteLine(text);
        Assert.True(code == 0, $"flowcontrol failed ({code}):\n{text}");
        Assert.Contains(broker.Lines, l => l.Contains("waits for memory", StringComparison.Ordinal));
    }
}
