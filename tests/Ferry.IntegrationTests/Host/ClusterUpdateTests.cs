using Ferry.Protocol.OpenWire.Commands;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Host;

/// <summary>The connector options that tell failover clients about the cluster (ConnectionControl).</summary>
public sealed class ClusterUpdateTests
{
    [Fact]
    public async Task Connector_with_updateClusterClients_sends_its_uri_to_clients()
    {
        await using var broker = await BrokerProcess.StartAsync("?updateClusterClients=true&rebalanceClusterClients=true");
        await using var client = await OpenWireTestClient.ConnectAsync("127.0.0.1", broker.Port);
        await WaitFor.ConditionAsync(() => { lock (client.Received) { return client.Received.OfType<ConnectionControl>().Any(); } }, TimeSpan.FromSeconds(10), "ConnectionControl");
        ConnectionControl control;
        BrokerInfo info;
        lock (client.Received)
        {
            control = client.Received.OfType<ConnectionControl>().Single();
            info = client.Received.OfType<BrokerInfo>().Single();
        }
        Assert.Equal(broker.Uri, control.ConnectedBrokers);
        Assert.True(control.RebalanceConnection);
        Assert.NotNull(info.PeerBrokerInfos);
        Assert.Empty(info.PeerBrokerInfos);
    }

    [Fact]
    public async Task Connector_without_cluster_updates_sends_empty_lists_like_activemq()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var client = await OpenWireTestClient.ConnectAsync("127.0.0.1", broker.Port);
        await WaitFor.ConditionAsync(() => { lock (client.Received) { return client.Received.OfType<ConnectionControl>().Any(); } }, TimeSpan.FromSeconds(10), "ConnectionControl");
        lock (client.Received)
        {
            var control = client.Received.OfType<ConnectionControl>().Single();
            Assert.Equal("", control.ConnectedBrokers);
            Assert.Equal("", control.ReconnectTo);
            Assert.Null(client.Received.OfType<BrokerInfo>().Single().PeerBrokerInfos);
        }
    }
}
