using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Durability;

/// <summary>A persistent broker process shared by the JMS-semantics scenarios.</summary>
public sealed class PersistentBroker : IAsyncLifetime
{
    public BrokerProcess Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await BrokerProcess.StartAsync("", "--log-level", "Information");

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

/// <summary>
/// The ActiveMQ Java client against Ferry for the JMS semantics that need the store and the
/// broker's policies: transactions, redelivery limit and DLQ, expiry, selectors, exclusive
/// consumers, message groups. Each scenario asserts inside the Java driver.
/// </summary>
public sealed class JmsSemanticsInteropTests(PersistentBroker shared, ITestOutputHelper output) : IClassFixture<PersistentBroker>
{
    [Theory]
    [InlineData("tx")]
    [InlineData("dlq")]
    [InlineData("expiry")]
    [InlineData("selectors")]
    [InlineData("exclusive")]
    [InlineData("groups")]
    public async Task Java_client_semantics_scenario_passes(string scenario)
    {
        var (code, text) = await JavaInterop.RunDurabilityAsync(shared.Broker.Uri, scenario);
        output.WriteLine(text);
        Assert.True(code == 0, $"scenario {scenario} failed with exit code {code}:\n{text}");
        Assert.EndsWith("OK " + scenario, text.TrimEnd(), StringComparison.Ordinal);
        shared.Broker.AssertNoErrors();
    }
}
