using System.Buffers;
using System.IO.Pipelines;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace Ferry.Tests.Engine;

/// <summary>Keep-alive and inactivity detection both ways, driven by a fake clock; slow consumers.</summary>
public sealed class ConnectionLimitsTests
{
    private static readonly WireFormatOptions Loose = new() { TightEncodingEnabled = false, MaxInactivityDuration = 3000, MaxInactivityDurationInitialDelay = 1000 };

    private static async Task<List<DataStructure>> ReadAvailableAsync(PipeReader reader, OpenWireFormat codec, TimeSpan wait)
    {
        var commands = new List<DataStructure>();
        using var cts = new CancellationTokenSource(wait);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cts.Token);
                var buffer = result.Buffer;
                while (codec.TryReadFrame(ref buffer, out var command))
                {
                    commands.Add(command!);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return commands;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return commands;
        }
    }

    [Fact]
    public async Task Silent_peer_is_dropped_after_the_inactivity_duration_and_idle_broker_sends_keep_alives()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var engine = new EngineFixture(time);
        var (client, served) = engine.ConnectRaw(Loose);
        using var codec = new OpenWireFormat(long.MaxValue);
        await client.Output.WriteAsync(codec.Encode(WireFormatInfo.From(Loose)).ToArray());
        var greeting = await ReadAvailableAsync(client.Input, codec, TimeSpan.FromSeconds(2));
        Assert.IsType<WireFormatInfo>(greeting[0]);
        codec.Apply(Loose.Negotiate((WireFormatInfo)greeting[0]));
        Assert.Contains(greeting, c => c is BrokerInfo);

        // Idle for more than a write interval (3000/3 after the 1000 initial delay): a keep-alive arrives.
        time.Advance(TimeSpan.FromMilliseconds(2100));
        var idle = await ReadAvailableAsync(client.Input, codec, TimeSpan.FromSeconds(2));
        Assert.Contains(idle, c => c is KeepAliveInfo);

        // Silent for a whole read interval: the broker closes the connection.
        time.Advance(TimeSpan.FromMilliseconds(3100));
        await served.WaitAsync(TimeSpan.FromSeconds(10));
        bool closed;
        try
        {
            closed = (await client.Input.ReadAsync()).IsCompleted;
        }
        catch (IOException)
        {
            closed = true; // dropped without a goodbye: the pipe reports the abort
        }
        Assert.True(closed);
    }

    [Fact]
    public async Task Peer_that_keeps_talking_is_not_dropped()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var engine = new EngineFixture(time);
        var (client, served) = engine.ConnectRaw(Loose);
        using var codec = new OpenWireFormat(long.MaxValue);
        await client.Output.WriteAsync(codec.Encode(WireFormatInfo.From(Loose)).ToArray());
        var greeting = await ReadAvailableAsync(client.Input, codec, TimeSpan.FromSeconds(2));
        codec.Apply(Loose.Negotiate((WireFormatInfo)greeting[0]));
        for (int i = 0; i < 10; i++)
        {
            await client.Output.WriteAsync(codec.Encode(new KeepAliveInfo()).ToArray());
            await Task.Delay(20);
            time.Advance(TimeSpan.FromMilliseconds(1000));
        }
        Assert.False(served.IsCompleted);
        var keepAliveAnswer = new KeepAliveInfo { ResponseRequired = true };
        await client.Output.WriteAsync(codec.Encode(keepAliveAnswer).ToArray());
        var echoed = await ReadAvailableAsync(client.Input, codec, TimeSpan.FromSeconds(1));
        Assert.Contains(echoed, c => c is KeepAliveInfo { ResponseRequired: false });
    }

    [Fact]
    public async Task Slow_consumer_is_disconnected_without_stopping_the_producer()
    {
        await using var engine = new EngineFixture(configure: o => o.MaxPendingOutputBytesPerConnection = 256 * 1024);
        var topic = Destination.Topic("firehose");
        // This subscriber's transport is never read: its pipe fills, then its pending output.
        var (stuck, stuckServed) = engine.ConnectRaw(new WireFormatOptions { TightEncodingEnabled = false });
        using var codec = new OpenWireFormat(long.MaxValue);
        var connectionId = new ConnectionId("ID:stuck:1");
        await stuck.Output.WriteAsync(codec.Encode(WireFormatInfo.From(new WireFormatOptions { TightEncodingEnabled = false })).ToArray());
        var greeting = await ReadAvailableAsync(stuck.Input, codec, TimeSpan.FromSeconds(2));
        codec.Apply(new WireFormatOptions { TightEncodingEnabled = false }.Negotiate((WireFormatInfo)greeting[0]));
        foreach (var command in new Command[]
        {
            new ConnectionInfo { CommandId = 1, ConnectionId = connectionId, ClientId = "stuck" },
            new ConsumerInfo { CommandId = 2, ConsumerId = new ConsumerId("ID:stuck:1", 1, 1), Destination = topic, PrefetchSize = 100_000 },
        })
        {
            await stuck.Output.WriteAsync(codec.Encode(command).ToArray());
        }
        await WaitFor.ConditionAsync(() => engine.Broker.Destinations.FindTopic("firehose")?.ConsumerCount == 1, TimeSpan.FromSeconds(5), "stuck subscriber");

        var producerClient = await engine.ConnectAsync();
        var producer = await producerClient.AddProducerAsync(topic);
        var body = new string('x', 8 * 1024);
        for (int i = 0; i < 400 && !stuckServed.IsCompleted; i++)
        {
            await producerClient.SendTextAsync(producer, topic, body);
        }
        await stuckServed.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitFor.ConditionAsync(() => engine.Broker.Destinations.FindTopic("firehose")!.ConsumerCount == 0, TimeSpan.FromSeconds(5), "slow consumer removed");
        await producerClient.SendTextAsync(producer, topic, "producer still served");
    }
}
