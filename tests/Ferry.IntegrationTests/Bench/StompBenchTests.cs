using Ferry.TestKit;

namespace Ferry.IntegrationTests.Bench;

/// <summary>
/// The STOMP mode of <c>ferry bench</c> (<c>stomp://</c> URLs) against the real ActiveMQ 5.17 STOMP
/// connector (Debian's activemq-stomp.jar), embedded by Interop/java/ActiveMQStompBroker.java.
/// </summary>
public sealed class StompBenchTests : IAsyncLifetime
{
    private const string BrokerClassPath = "/usr/share/java/activemq-broker.jar:/usr/share/java/activemq-stomp.jar:" + JavaInterop.ClassPath;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    private CommandProcess? _broker;
    private string _url = "";

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists("/usr/share/java/activemq-stomp.jar"), "activemq-stomp.jar is missing (apt-get install libactivemq-java)");
        _broker = CommandProcess.Start("java", ["-cp", BrokerClassPath, Path.Combine(JavaInterop.SourceDirectory, "ActiveMQStompBroker.java"), "0", "600"]);
        _url = (await _broker.WaitForLineAsync("READY ", TimeSpan.FromSeconds(90)))["READY ".Length..].Trim();
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("--persistent")]          // sync sends: each SEND asks for a RECEIPT
    [InlineData("--non-persistent")]      // async sends, drained with a DISCONNECT receipt
    public async Task Stomp_producer_and_consumer_move_every_message(string mode)
    {
        string queue = "queue://bench.stomp" + mode;
        await using var consumer = CommandProcess.Bench("consumer", "--url", _url, "--destination", queue, "--messages", "250", "--prefetch", "100");
        await consumer.WaitForLineAsync("ready:", RunTimeout);
        await using var producer = CommandProcess.Bench("producer", "--url", _url, "--destination", queue, "--messages", "250", mode);
        var sent = await producer.SummaryAsync(RunTimeout);
        var received = await consumer.SummaryAsync(RunTimeout);
        Assert.Equal("stomp", sent["protocol"]);
        Assert.Equal(250, CommandProcess.Number(sent, "messages"));
        Assert.Equal(250, CommandProcess.Number(received, "messages"));
        Assert.True(CommandProcess.Number(received, "msg_per_s") > 0);
        Assert.True(CommandProcess.Number(received, "p50_us") <= CommandProcess.Number(received, "p99_us"));
    }

    [Fact]
    public async Task Stomp_topic_fan_out_and_transacted_sends()
    {
        await using var consumers = CommandProcess.Bench("consumer", "--url", _url, "--destination", "topic://bench.stomp.fan", "--consumers", "3", "--messages", "120");
        await consumers.WaitForLineAsync("ready:", RunTimeout);
        await using var producer = CommandProcess.Bench("producer", "--url", _url, "--destination", "topic://bench.stomp.fan", "--messages", "120", "--transacted", "25");
        Assert.Equal(120, CommandProcess.Number(await producer.SummaryAsync(RunTimeout), "messages"));
        Assert.Equal(360, CommandProcess.Number(await consumers.SummaryAsync(RunTimeout), "messages"));
    }
}
