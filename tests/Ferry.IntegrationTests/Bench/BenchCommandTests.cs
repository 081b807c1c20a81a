using System.Globalization;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Bench;

/// <summary>
/// <c>ferry bench</c> against real brokers: a <c>ferry broker</c> process (OpenWire) and an embedded
/// ActiveMQ with its STOMP connector. Small counts; the summaries are parsed and the counts checked
/// (figures exist, no timing asserted).
/// </summary>
public sealed class BenchCommandTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    private static void AssertRun(IReadOnlyDictionary<string, string> summary, string role, long messages, bool latency = true)
    {
        Assert.Equal(role, summary["role"]);
        Assert.Equal(messages, (long)CommandProcess.Number(summary, "messages"));
        Assert.True(CommandProcess.Number(summary, "msg_per_s") > 0, "a rate");
        Assert.True(CommandProcess.Number(summary, "mb_per_s") > 0, "a byte rate");
        // The process's own CPU from its first message on, whole and per message (cpu_s is rounded to 1 ms).
        double cpu = CommandProcess.Number(summary, "cpu_s");
        Assert.True(cpu > 0, "the client's CPU time");
        Assert.InRange(CommandProcess.Number(summary, "cpu_us_per_msg"), (cpu * 1e6 - 1000) / messages - 0.01, (cpu * 1e6 + 1000) / messages + 0.01);
        if (latency)
        {
            double p50 = CommandProcess.Number(summary, "p50_us"), p99 = CommandProcess.Number(summary, "p99_us"), max = CommandProcess.Number(summary, "max_us");
            Assert.True(p50 >= 0 && p50 <= p99 && p99 <= max, $"ordered percentiles {p50} <= {p99} <= {max}");
        }
    }

    [Fact]
    public async Task Producer_and_consumer_move_every_message_through_a_queue_and_report_latency()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var consumer = CommandProcess.Bench("consumer", "--url", broker.Uri, "--destination", "queue://bench.q", "--messages", "300", "--size", "512");
        await consumer.WaitForLineAsync("ready:", RunTimeout);
        await using var producer = CommandProcess.Bench("producer", "--url", broker.Uri, "--destination", "queue://bench.q", "--messages", "300", "--size", "512");
        var sent = await producer.SummaryAsync(RunTimeout);
        var received = await consumer.SummaryAsync(RunTimeout);
        AssertRun(sent, "producer", 300);
        Assert.Equal("sync", sent["send"]);
        Assert.Equal("true", sent["persistent"]);
        AssertRun(received, "consumer", 300);
        // The rate is the bytes over the seconds; both are rounded when printed (3 and 2 decimals), so allow that much.
        double seconds = CommandProcess.Number(received, "seconds"), rate = 300 * 512 / (seconds * 1e6);
        Assert.Equal(rate, CommandProcess.Number(received, "mb_per_s"), 0.005 + rate * 0.0005 / (seconds - 0.0005));
        broker.AssertNoErrors();
    }

    [Fact]
    public async Task Topic_fan_out_gives_every_consumer_every_message()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var consumers = CommandProcess.Bench("consumer", "--url", broker.Uri, "--destination", "topic://bench.fan", "--consumers", "3", "--messages", "200");
        await consumers.WaitForLineAsync("ready:", RunTimeout);
        await using var producer = CommandProcess.Bench("producer", "--url", broker.Uri, "--destination", "topic://bench.fan", "--messages", "200", "--non-persistent");
        var sent = await producer.SummaryAsync(RunTimeout);
        AssertRun(sent, "producer", 200, latency: false);
        Assert.Equal("async", sent["send"]);
        AssertRun(await consumers.SummaryAsync(RunTimeout), "consumer", 3 * 200);
    }

    [Fact]
    public async Task Transacted_batches_with_several_producers_deliver_every_message()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var producer = CommandProcess.Bench("producer", "--url", broker.Uri, "--destination", "queue://bench.tx",
            "--producers", "2", "--messages", "130", "--transacted", "50", "--send", "async");
        AssertRun(await producer.SummaryAsync(RunTimeout), "producer", 260, latency: false);
        await using var consumer = CommandProcess.Bench("consumer", "--url", broker.Uri, "--destination", "queue://bench.tx",
            "--consumers", "2", "--messages", "130", "--transacted", "40", "--prefetch", "10");
        AssertRun(await consumer.SummaryAsync(RunTimeout), "consumer", 260);
    }

    [Fact]
    public async Task A_consumer_done_with_its_share_hands_its_prefetched_messages_to_the_others()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var producer = CommandProcess.Bench("producer", "--url", broker.Uri, "--destination", "queue://bench.share",
            "--messages", "100", "--quiet");
        AssertRun(await producer.SummaryAsync(RunTimeout), "producer", 100);
        // Prefetch 100: the first consumer subscribed is sent all 100 messages; the second gets its
        // 50 only once the first, with its 50 received and committed, closes.
        await using var consumer = CommandProcess.Bench("consumer", "--url", broker.Uri, "--destination", "queue://bench.share",
            "--consumers", "2", "--messages", "50", "--transacted", "20", "--prefetch", "100", "--receive-timeout", "10");
        AssertRun(await consumer.SummaryAsync(RunTimeout), "consumer", 100);
    }

    [Fact]
    public async Task A_consumer_that_gets_fewer_messages_than_asked_says_so_and_fails()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var consumer = CommandProcess.Bench("consumer", "--url", broker.Uri, "--destination", "queue://bench.empty", "--messages", "5", "--receive-timeout", "1", "--quiet");
        Assert.Equal(1, await consumer.WaitForExitAsync(RunTimeout));
        Assert.Contains("received [0] of 5", consumer.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Roundtrip_answers_every_request_through_a_temporary_queue()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var roundtrip = CommandProcess.Bench("roundtrip", "--url", broker.Uri, "--destination", "queue://bench.rr",
            "--producers", "2", "--consumers", "2", "--messages", "150", "--non-persistent", "--size", "100");
        AssertRun(await roundtrip.SummaryAsync(RunTimeout), "roundtrip", 300);
        broker.AssertNoErrors();
    }

    [Fact]
    public async Task Connections_opens_holds_and_round_trips_on_a_sample_reporting_the_broker_process()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var run = CommandProcess.Bench("connections", "--url", broker.Uri, "--connections", "60", "--hold", "1",
            "--check", "6", "--broker-pid", broker.ProcessId.ToString(CultureInfo.InvariantCulture));
        var summary = await run.SummaryAsync(RunTimeout);
        Assert.Equal(60, CommandProcess.Number(summary, "opened"));
        Assert.Equal(0, CommandProcess.Number(summary, "failed"));
        Assert.Equal(6, CommandProcess.Number(summary, "check_ok"));
        Assert.True(CommandProcess.Number(summary, "broker_rss_kb") > 0);
        Assert.True(CommandProcess.Number(summary, "broker_threads") > 0);
        broker.AssertNoErrors();
    }

    [Theory]
    [InlineData("--bogus", "unknown option '--bogus'")]
    [InlineData("--destination bad", "--destination must be queue://NAME or topic://NAME")]
    [InlineData("--messages 0", "--messages must be an integer of at least 1")]
    public async Task Bad_options_exit_2_with_the_reason(string options, string message)
    {
        await using var run = CommandProcess.Bench(["producer", .. options.Split(' ')]);
        Assert.Equal(2, await run.WaitForExitAsync(RunTimeout));
        Assert.Contains(message, run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_broker_is_a_clear_error()
    {
        int port = FreePort.Pick();
        await using var run = CommandProcess.Bench("producer", "--url", $"tcp://127.0.0.1:{port}?jms.requestTimeout=5000", "--messages", "1");
        Assert.Equal(1, await run.WaitForExitAsync(RunTimeout));
        Assert.Contains("ferry bench:", run.Output, StringComparison.Ordinal);
    }
}
