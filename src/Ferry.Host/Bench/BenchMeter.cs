using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ferry.Host.Bench;

/// <summary>
/// Counts messages and bytes of one bench run (any thread), prints progress to stderr once per second,
/// and ends with a summary: rate, MB/s, latency percentiles.
/// </summary>
internal sealed class BenchMeter : IAsyncDisposable
{
    private readonly string _role;
    private readonly List<Latencies> _latencies = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _progress;
    private long _messages;
    private long _bytes;
    private long _first;
    private long _last;
    // This process's CPU time when the first message was counted, in ticks.
    private long _cpuAtFirst;

    public BenchMeter(string role, bool quiet)
    {
        _role = role;
        _progress = quiet ? Task.CompletedTask : ReportProgressAsync(_stop.Token);
    }

    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Counts one message; the first call starts the clock, the last one stops it.</summary>
    public void Count(int bytes)
    {
        long now = Stopwatch.GetTimestamp();
        if (Interlocked.CompareExchange(ref _first, now, 0) == 0)
        {
            Volatile.Write(ref _cpuAtFirst, Environment.CpuUsage.TotalTime.Ticks);
        }
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, bytes);
        Volatile.Write(ref _last, now);
    }

    /// <summary>Moves the end of the clock to now (e.g. when async sends are drained) without counting a message.</summary>
    public void Stamp() => Volatile.Write(ref _last, Stopwatch.GetTimestamp());

    /// <summary>A latency recorder for one worker (no sharing, so no locking on the hot path).</summary>
    public Latencies NewLatencies()
    {
        var l = new Latencies();
        lock (_latencies)
        {
            _latencies.Add(l);
        }
        return l;
    }

    /// <summary>Microseconds since the Unix epoch, the send timestamp carried in each message.</summary>
    public static long NowMicros() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    private async Task ReportProgressAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long start = Stopwatch.GetTimestamp(), previous = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                long now = Messages;
                await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{_role}: {Stopwatch.GetElapsedTime(start).TotalSeconds:F0} s, {now} messages, {now - previous} msg/s"));
                previous = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Writes the summary to stdout: a readable block, then one <c>summary:</c> line of key=value pairs.</summary>
    public void PrintSummary(IEnumerable<KeyValuePair<string, string>>? extra = null)
    {
        long messages = Messages, bytes = Interlocked.Read(ref _bytes);
        double seconds = messages == 0 ? 0 : Stopwatch.GetElapsedTime(Interlocked.Read(ref _first), Volatile.Read(ref _last)).TotalSeconds;
        double rate = seconds > 0 ? messages / seconds : 0;
        var fields = new List<KeyValuePair<string, string>>
        {
            new("role", _role),
            new("messages", messages.ToString(CultureInfo.InvariantCulture)),
            new("seconds", seconds.ToString("F3", CultureInfo.InvariantCulture)),
            new("msg_per_s", rate.ToString("F1", CultureInfo.InvariantCulture)),
            new("mb_per_s", (seconds > 0 ? bytes / seconds / 1e6 : 0).ToString("F2", CultureInfo.InvariantCulture)),
        };
        if (messages > 0)
        {
            // The process's CPU from the first message to now (start-up and JIT before it left out), so a
            // script can tell what a run cost the client next to what it cost the broker.
            var cpu = TimeSpan.FromTicks(Environment.CpuUsage.TotalTime.Ticks - Volatile.Read(ref _cpuAtFirst));
            fields.Add(new("cpu_s", cpu.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)));
            fields.Add(new("cpu_us_per_msg", (cpu.TotalMicroseconds / messages).ToString("F2", CultureInfo.InvariantCulture)));
        }
        long[] all;
        lock (_latencies)
        {
            all = Latencies.Merge(_latencies);
        }
        if (all.Length > 0)
        {
            fields.Add(new("p50_us", Latencies.Percentile(all, 50).ToString(CultureInfo.InvariantCulture)));
            fields.Add(new("p90_us", Latencies.Percentile(all, 90).ToString(CultureInfo.InvariantCulture)));
            fields.Add(new("p99_us", Latencies.Percentile(all, 99).ToString(CultureInfo.InvariantCulture)));
            fields.Add(new("max_us", all[^1].ToString(CultureInfo.InvariantCulture)));
        }
        if (extra is not null)
        {
            fields.AddRange(extra);
        }
        Print(fields);
    }

    /// <summary>Prints any key=value list as a summary (aligned block, then the one-line form).</summary>
    public static void Print(IReadOnlyList<KeyValuePair<string, string>> fields)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in fields)
        {
            text.Append(CultureInfo.InvariantCulture, $"{key,-18} {value}\n");
        }
        text.Append("summary:");
        foreach (var (key, value) in fields)
        {
            text.Append(' ').Append(key).Append('=').Append(value);
        }
        Console.Out.WriteLine(text.ToString());
        Console.Out.Flush();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _progress;
        _stop.Dispose();
    }
}

/// <summary>Latency samples (microseconds) of one worker.</summary>
internal sealed class Latencies
{
    private readonly List<long> _samples = [];

    public void Add(long micros) => _samples.Add(Math.Max(0, micros));

    public static long[] Merge(IEnumerable<Latencies> all)
    {
        var merged = all.SelectMany(l => l._samples).ToArray();
        Array.Sort(merged);
        return merged;
    }

    /// <summary>Nearest-rank percentile of sorted samples.</summary>
    public static long Percentile(long[] sorted, double percent)
    {
        int rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
