using System.Net;
using System.Net.Sockets;
using Ferry.Protocol.Transport;
using Ferry.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace Ferry.Tests.Transport;

/// <summary>Reconnect delays: exponential back-off from initialReconnectDelay, capped at maxReconnectDelay, with jitter.</summary>
public sealed class FailoverBackoffTests
{
    private static FailoverOptions Options(string query) => FailoverOptions.Parse("failover:(tcp://127.0.0.1:1)?" + query);

    [Fact]
    public void Delays_double_from_the_initial_delay_up_to_the_cap()
    {
        var backoff = new FailoverBackoff(Options("initialReconnectDelay=10&maxReconnectDelay=100&reconnectDelayJitter=0"), new Random(1));
        var delays = Enumerable.Range(0, 7).Select(_ => backoff.Next().TotalMilliseconds).ToList();
        Assert.Equal([10, 20, 40, 80, 100, 100, 100], delays);
        backoff.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(10), backoff.Next());
    }

    [Fact]
    public void The_exponent_is_the_multiplier()
    {
        var backoff = new FailoverBackoff(Options("initialReconnectDelay=100&reconnectDelayExponent=1.5&reconnectDelayJitter=0"), new Random(1));
        Assert.Equal([100, 150, 225, 337.5], Enumerable.Range(0, 4).Select(_ => backoff.Next().TotalMilliseconds));
    }

    [Fact]
    public void Without_exponential_back_off_the_delay_stays_at_the_initial_delay()
    {
        var backoff = new FailoverBackoff(Options("initialReconnectDelay=25&useExponentialBackOff=false&reconnectDelayJitter=0"), new Random(1));
        Assert.All(Enumerable.Range(0, 5).Select(_ => backoff.Next()), d => Assert.Equal(TimeSpan.FromMilliseconds(25), d));
    }

    [Fact]
    public void Jitter_stays_within_its_bounds_and_never_passes_the_cap()
    {
        var options = Options("initialReconnectDelay=100&maxReconnectDelay=1000&reconnectDelayJitter=0.25");
        var backoff = new FailoverBackoff(options, new Random(42));
        var seen = new HashSet<double>();
        for (int i = 0; i < 200; i++)
        {
            double expectedBase = Math.Min(100 * Math.Pow(2, i), 1000);
            double delay = backoff.Next().TotalMilliseconds;
            Assert.InRange(delay, expectedBase * 0.75, Math.Min(expectedBase * 1.25, 1000));
            seen.Add(Math.Round(delay, 3));
        }
        Assert.True(seen.Count > 50, "jitter should spread the delays");
    }

    [Fact]
    public async Task The_reconnect_loop_waits_each_delay_on_the_injected_clock()
    {
        int port = Ferry.TestKit.FreePort.Pick();
        var time = new FakeTimeProvider();
        var options = FailoverOptions.Parse(
            $"failover:(tcp://127.0.0.1:{port})?initialReconnectDelay=100&maxReconnectDelay=500&reconnectDelayJitter=0&startupMaxReconnectAttempts=6");
        await using var transport = new FailoverTransport(options, time, loggers: null, random: new Random(1));
        var delays = new List<TimeSpan>();
        int attempts = 0;
        transport.ReconnectDelayObserver = d =>
        {
            lock (delays)
            {
                delays.Add(d);
            }
        };
        transport.ConnectAttemptObserver = _ => Interlocked.Increment(ref attempts);
        var start = transport.StartAsync(CancellationToken.None);
        for (int k = 1; k <= 5; k++)
        {
            await WaitFor.ConditionAsync(() => Count(delays) == k, TimeSpan.FromSeconds(10), $"back-off wait {k}");
            Assert.Equal(k, Volatile.Read(ref attempts));
            TimeSpan delay;
            lock (delays)
            {
                delay = delays[k - 1];
            }
            time.Advance(delay);
        }
        var error = await Assert.ThrowsAsync<TransportClosedException>(() => start.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("6 attempt(s)", error.Message, StringComparison.Ordinal);
        Assert.Equal(6, Volatile.Read(ref attempts));
        Assert.Equal([100, 200, 400, 500, 500], delays.Select(d => d.TotalMilliseconds));
    }

    private static int Count(List<TimeSpan> delays)
    {
        lock (delays)
        {
            return delays.Count;
        }
    }

}
