using System.Reflection;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>The npm STOMP client (@stomp/stompjs over ws, run with node) against the ws:// connector.</summary>
public sealed class StompJsTests(StompBroker broker, ITestOutputHelper output) : IClassFixture<StompBroker>
{
    private static string ScriptDirectory => typeof(StompJsTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "StompJsDirectory").Value!;

    [Fact]
    public async Task Stompjs_connects_over_websocket_subscribes_sends_receives_and_acks()
    {
        Assert.True(Directory.Exists(Path.Combine(ScriptDirectory, "node_modules", "@stomp", "stompjs")),
            $"npm packages missing in {ScriptDirectory}: run scripts/install-test-deps");
        var (code, text) = await JavaInterop.RunAsync("node", [Path.Combine(ScriptDirectory, "stomp_ws.mjs"), broker.WebSocketUri], TimeSpan.FromSeconds(90));
        output.WriteLine(text);
        Assert.True(code == 0, $"stompjs exited {code}:\n{text}");
        Assert.Contains("PASS", text, StringComparison.Ordinal);
        broker.Process.AssertNoErrors();
    }
}
