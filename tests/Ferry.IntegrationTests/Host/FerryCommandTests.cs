using System.Net;
using System.Net.Sockets;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Host;

/// <summary>The <c>ferry broker</c> command: start-up, configuration errors, signals.</summary>
public sealed class FerryCommandTests
{
    [Fact]
    public async Task Broker_logs_the_real_port_and_stops_cleanly_on_SIGTERM()
    {
        await using var broker = await BrokerProcess.StartAsync();
        Assert.StartsWith("tcp://127.0.0.1:", broker.Uri, StringComparison.Ordinal);
        Assert.NotEqual(0, broker.Port);
        await using (var client = await OpenWireTestClient.ConnectAsync("127.0.0.1", broker.Port))
        {
            await client.CloseAsync();
        }
        Assert.Equal(0, await broker.StopAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains(broker.Lines, l => l.Contains("stopped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Broker_exits_non_zero_with_a_clear_message_when_the_port_is_in_use()
    {
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        int port = ((IPEndPoint)occupier.LocalEndpoint).Port;
        await using var broker = BrokerProcess.Launch(["--bind", $"tcp://127.0.0.1:{port}"]);
        int code = await broker.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, code);
        Assert.Contains(broker.Lines, l => l.Contains("address already in use", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:0?wireFormat.bogus=1", "Unknown option(s) 'wireFormat.bogus'")]
    [InlineData("tcp://127.0.0.1:notaport", "invalid port")]
    [InlineData("http://127.0.0.1:0", "expected tcp or nio")]
    public async Task Broker_refuses_a_bad_bind_uri(string uri, string message)
    {
        await using var broker = BrokerProcess.Launch(["--bind", uri]);
        int code = await broker.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, code);
        Assert.Contains(broker.Lines, l => l.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Broker_reads_a_json_config_file()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("ferry-config-").FullName, "broker.json");
        await File.WriteAllTextAsync(file, """
            {
              "BrokerName": "from-config",
              "TransportConnectors": [ { "Name": "main", "Uri": "nio://127.0.0.1:0?wireFormat.maxInactivityDuration=10000" } ]
            }
            """);
        await using var broker = BrokerProcess.Launch(["--config", file]);
        await broker.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("nio://127.0.0.1:", broker.Uri, StringComparison.Ordinal);
        await broker.WaitForLogAsync("Broker from-config", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Broker_refuses_an_unknown_config_key()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("ferry-config-").FullName, "broker.json");
        await File.WriteAllTextAsync(file, """{ "BrokerNmae": "typo" }""");
        await using var broker = BrokerProcess.Launch(["--config", file]);
        Assert.Equal(2, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(broker.Lines, l => l.Contains("BrokerNmae", StringComparison.Ordinal));
    }
}
