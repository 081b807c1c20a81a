using System.Diagnostics;
using System.Globalization;
using Ferry.Client;

namespace Ferry.Host.Bench;

/// <summary>
/// <c>ferry bench connections</c>: opens N OpenWire connections (each started, with one session), holds them
/// idle, round-trips a message on a sample of them, and reports how many opened, how fast, and (with
/// <c>--broker-pid</c>) the broker's RSS and thread count idle and with every connection open.
/// </summary>
internal static class ConnectionsBench
{
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        FileDescriptorLimit.EnsureAtLeast(options.Connections + 256);
        var factory = OpenWireBenchClient.Factory(options);
        var before = options.BrokerPid is int pid0 ? ProcessStatus.Read(pid0) : null;
        var opened = new (Connection Connection, Session Session)?[options.Connections];
        int openCount = 0, failed = 0;
        string? firstError = null;
        using var gate = new SemaphoreSlim(options.OpenConcurrency);
        using var stopProgress = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var progress = options.Quiet ? Task.CompletedTask : ReportAsync(() => $"connections: {Volatile.Read(ref openCount)} open, {Volatile.Read(ref failed)} failed", stopProgress.Token);
        long start = Stopwatch.GetTimestamp();
        try
        {
            await Task.WhenAll(Enumerable.Range(0, options.Connections).Select(async i =>
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    var connection = await factory.CreateConnectionAsync(cancellationToken);
                    try
                    {
                        await connection.StartAsync(cancellationToken);
                        opened[i] = (connection, await connection.CreateSessionAsync(AcknowledgeMode.Auto, cancellationToken));
                        Interlocked.Increment(ref openCount);
                    }
                    catch
                    {
                        await connection.DisposeAsync();
                        throw;
                    }
                }
                catch (Exception ex) when (ex is MessagingException or IOException or System.Net.Sockets.SocketException or TimeoutException)
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, ex.Message, null);
                }
                finally
                {
                    gate.Release();
                }
            }));
            double openSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"connections: {openCount} open after {openSeconds:F1} s; holding them {options.Hold.TotalSeconds} s"));
            await Task.Delay(options.Hold, cancellationToken);
            var held = options.BrokerPid is int pid1 ? ProcessStatus.Read(pid1) : null;
            var open = opened.Where(o => o is not null).Select(o => o!.Value).ToArray();
            int checkedCount = Math.Min(options.Check, open.Length);
            int checkOk = (await Task.WhenAll(Enumerable.Range(0, checkedCount)
                .Select(k => RoundTripAsync(open[(int)((long)k * open.Length / checkedCount)].Session, options.ReceiveTimeout, cancellationToken)))).Count(ok => ok);
            var self = ProcessStatus.Read(Environment.ProcessId);
            await stopProgress.CancelAsync();
            await progress;

            var fields = new List<KeyValuePair<string, string>>
            {
                new("role", "connections"),
                new("requested", options.Connections.ToString(CultureInfo.InvariantCulture)),
                new("opened", openCount.ToString(CultureInfo.InvariantCulture)),
                new("failed", failed.ToString(CultureInfo.InvariantCulture)),
                new("open_seconds", openSeconds.ToString("F3", CultureInfo.InvariantCulture)),
                new("open_per_s", (openCount / openSeconds).ToString("F1", CultureInfo.InvariantCulture)),
                new("held_seconds", options.Hold.TotalSeconds.ToString(CultureInfo.InvariantCulture)),
                new("checked", checkedCount.ToString(CultureInfo.InvariantCulture)),
                new("check_ok", checkOk.ToString(CultureInfo.InvariantCulture)),
                new("client_rss_kb", self?.RssKb.ToString(CultureInfo.InvariantCulture) ?? "-1"),
                new("client_threads", self?.Threads.ToString(CultureInfo.InvariantCulture) ?? "-1"),
            };
            if (before is not null && held is not null)
            {
                fields.Add(new("broker_rss_kb_idle", before.RssKb.ToString(CultureInfo.InvariantCulture)));
                fields.Add(new("broker_threads_idle", before.Threads.ToString(CultureInfo.InvariantCulture)));
                fields.Add(new("broker_rss_kb", held.RssKb.ToString(CultureInfo.InvariantCulture)));
                fields.Add(new("broker_threads", held.Threads.ToString(CultureInfo.InvariantCulture)));
                fields.Add(new("broker_kb_per_connection", (openCount == 0 ? 0 : (double)(held.RssKb - before.RssKb) / openCount).ToString("F1", CultureInfo.InvariantCulture)));
            }
            BenchMeter.Print(fields);
            if (firstError is not null)
            {
                await Console.Error.WriteLineAsync($"ferry bench: {failed} connection(s) failed; the first: {firstError}");
            }
            return failed == 0 && checkOk == checkedCount ? 0 : 1;
        }
        finally
        {
            await stopProgress.CancelAsync();
            await progress;
            await Task.WhenAll(opened.Where(o => o is not null).Select(async o =>
            {
                await gate.WaitAsync(CancellationToken.None);
                try
                {
                    await o!.Value.Connection.DisposeAsync();
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
    }

    /// <summary>Sends one message to a temporary queue of <paramref name="session"/> and receives it back.</summary>
    private static async Task<bool> RoundTripAsync(Session session, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var queue = await session.CreateTemporaryQueueAsync(cancellationToken);
            await using var consumer = await session.CreateConsumerAsync(queue, cancellationToken: cancellationToken);
            await using var producer = await session.CreateProducerAsync(queue, cancellationToken);
            await producer.SendAsync(new TextMessage("ping"), cancellationToken);
            return await consumer.ReceiveAsync(timeout, cancellationToken) is TextMessage { Text: "ping" };
        }
        catch (MessagingException ex)
        {
            await Console.Error.WriteLineAsync($"ferry bench: a check round trip failed: {ex.Message}");
            return false;
        }
    }

    private static async Task ReportAsync(Func<string> line, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await Console.Error.WriteLineAsync(line());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>A process's resident memory and thread count, from <c>/proc/PID/status</c>.</summary>
internal sealed record ProcessStatus(long RssKb, int Threads)
{
    public static ProcessStatus? Read(int pid)
    {
        string path = $"/proc/{pid}/status";
        if (!File.Exists(path))
        {
            return null;
        }
        long rss = -1;
        int threads = -1;
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        return new ProcessStatus(rss, threads);
    }
}
