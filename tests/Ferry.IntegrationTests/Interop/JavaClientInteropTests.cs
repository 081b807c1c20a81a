using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Interop;

/// <summary>One broker process shared by the interop scenarios of a test run.</summary>
public sealed class SharedBroker : IAsyncLifetime
{
    public BrokerProcess Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await BrokerProcess.StartAsync();

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

/// <summary>
/// The unmodified ActiveMQ 5.17 Java client against a Ferry broker process: every scenario asserts
/// field by field inside the Java driver and ends with "OK scenario".
/// </summary>
public sealed class JavaClientInteropTests(SharedBroker shared, ITestOutputHelper output) : IClassFixture<SharedBroker>
{
    public static TheoryData<string, string> Scenarios()
    {
        var data = new TheoryData<string, string>();
        foreach (var scenario in new[] { "connect", "types", "topic3", "topicmixed", "competing", "clientack", "tempreply", "browser", "cachefull" })
        {
            // The Java default (tight encoding) and loose encoding, which the client asks for by URI option.
            data.Add(scenario, "tight");
            data.Add(scenario, "loose");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Java_client_scenario_passes(string scenario, string encoding)
    {
        string url = shared.Broker.Uri + (encoding == "loose" ? "?wireFormat.tightEncodingEnabled=false" : "");
        var (code, text) = await JavaInterop.RunScenarioAsync(url, scenario);
        output.WriteLine(text);
        Assert.True(code == 0, $"scenario {scenario} ({encoding}) failed with exit code {code}:\n{text}");
        Assert.EndsWith("OK " + scenario, text.TrimEnd(), StringComparison.Ordinal);
        shared.Broker.AssertNoErrors();
    }
}
