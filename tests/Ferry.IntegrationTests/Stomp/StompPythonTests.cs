using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>
/// The real stomp.py client (Debian python3-stomp) against a real broker: each scenario in
/// <c>python/stomp_scenarios.py</c> asserts what it receives and ends with "PASS &lt;scenario&gt;".
/// The same script passes against ActiveMQ 5.17 (<c>activemq/run-against-activemq.sh</c>).
/// </summary>
public sealed class StompPythonTests(StompBroker broker, ITestOutputHelper output) : IClassFixture<StompBroker>
{
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Stomp", "python", "stomp_scenarios.py");

    [Theory]
    [InlineData("versions")]
    [InlineData("text_and_bytes")]
    [InlineData("topic")]
    [InlineData("ack_auto")]
    [InlineData("ack_client")]
    [InlineData("ack_client_individual")]
    [InlineData("unexpected_ack")]
    [InlineData("nack")]
    [InlineData("selector")]
    [InlineData("selector_numeric")]
    [InlineData("transactions")]
    [InlineData("receipts")]
    [InlineData("durable")]
    [InlineData("temp_queue")]
    [InlineData("heartbeats")]
    [InlineData("silent_client_dropped")]
    [InlineData("prefetch")]
    [InlineData("exclusive")]
    public async Task Stomp_py_scenario_passes(string scenario)
    {
        var (code, text) = await JavaInterop.RunAsync("/usr/bin/python3", [Script, "127.0.0.1", broker.StompPort.ToString(System.Globalization.CultureInfo.InvariantCulture), scenario], TimeSpan.FromSeconds(90));
        output.WriteLine(text);
        Assert.True(code == 0, $"stomp.py scenario {scenario} exited {code}:\n{text}\nbroker (exited: {broker.Process.HasExited}):\n{string.Join('\n', broker.Process.Lines.TakeLast(40))}");
        Assert.Contains("PASS " + scenario, text, StringComparison.Ordinal);
        broker.Process.AssertNoErrors();
    }

    [Fact]
    public async Task Silent_clients_are_dropped_the_reason_logged_and_the_broker_survives()
    {
        // Several at once: a heart-beat timeout racing the connection's own clean-up once crashed the process.
        string port = broker.StompPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var runs = Enumerable.Range(0, 4).Select(_ => JavaInterop.RunAsync("/usr/bin/python3", [Script, "127.0.0.1", port, "silent_client_dropped"], TimeSpan.FromSeconds(60))).ToList();
        foreach (var (code, text) in await Task.WhenAll(runs))
        {
            Assert.True(code == 0, text);
        }
        await broker.Process.WaitForLogAsync("no heart-beat or frame from the client", TimeSpan.FromSeconds(10));
        Assert.False(broker.Process.HasExited, string.Join('\n', broker.Process.Lines.TakeLast(40)));
        broker.Process.AssertNoErrors();
    }
}
