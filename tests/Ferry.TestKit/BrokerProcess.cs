using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Ferry.TestKit;

/// <summary>
/// A real <c>ferry broker</c> process on a loopback port it picks itself (port 0, read back from its
/// log), with its own data directory. Kill sends SIGKILL, as a machine failure would.
/// </summary>
public sealed partial class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BrokerProcess(Process process) => _process = process;

    public string Uri { get; private set; } = "";
    public int Port { get; private set; }
    public string DataDirectory { get; private init; } = "";
    /// <summary>Whether disposing deletes the data directory (only one the launcher made itself).</summary>
    private bool OwnsDataDirectory { get; init; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return _lines.ToList();
            }
        }
    }

    public static string FerryDll => Path.Combine(AppContext.BaseDirectory, "ferry.dll");

    /// <summary>Starts <c>ferry broker</c> with the given extra arguments; does not wait for it to listen.</summary>
    public static BrokerProcess Launch(IEnumerable<string> arguments, string? dataDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(FerryDll);
        info.ArgumentList.Add("broker");
        string dir = dataDirectory ?? Directory.CreateTempSubdirectory("ferry-test-").FullName;
        info.ArgumentList.Add("--data-dir");
        info.ArgumentList.Add(dir);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var broker = new BrokerProcess(process) { DataDirectory = dir, OwnsDataDirectory = dataDirectory is null };
        process.OutputDataReceived += (_, e) => broker.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => broker.OnLine(e.Data);
        process.Exited += (_, _) => broker._listening.TrySetException(new InvalidOperationException("broker exited before listening:\n" + string.Join('\n', broker.Lines)));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return broker;
    }

    /// <summary>Starts a broker on 127.0.0.1 port 0 and waits until it listens.</summary>
    public static async Task<BrokerProcess> StartAsync(string bindOptions = "", params string[] extraArguments)
    {
        var broker = Launch(["--bind", "tcp://127.0.0.1:0" + bindOptions, .. extraArguments]);
        await broker.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        return broker;
    }

    /// <summary>Starts a broker on a given port and data directory (a restart after a kill), waiting until it listens.</summary>
    public static async Task<BrokerProcess> StartOnAsync(int port, string dataDirectory, params string[] extraArguments)
    {
        var broker = Launch(["--bind", $"tcp://127.0.0.1:{port}", .. extraArguments], dataDirectory);
        await broker.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        return broker;
    }

    public async Task WaitUntilListeningAsync(TimeSpan timeout)
    {
        Uri = await _listening.Task.WaitAsync(timeout);
        Port = int.Parse(Uri[(Uri.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_lines)
        {
            _lines.Add(line);
        }
        var match = ListeningPattern().Match(line);
        if (match.Success)
        {
            _listening.TrySetResult(match.Groups[1].Value);
        }
    }

    /// <summary>Log lines at error or critical level: a test fails if the broker logged one it did not expect.</summary>
    public IReadOnlyList<string> ErrorLines => Lines.Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)).ToList();

    /// <summary>Fails (with the broker's whole log) if it logged an error or critical line.</summary>
    public void AssertNoErrors()
    {
        if (ErrorLines.Count > 0)
        {
            throw new InvalidOperationException("broker logged errors:\n" + string.Join('\n', Lines));
        }
    }

    public Task WaitForLogAsync(string fragment, TimeSpan timeout) =>
        WaitFor.ConditionAsync(() => Lines.Any(l => l.Contains(fragment, StringComparison.Ordinal)), timeout, $"broker log line containing '{fragment}'");

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM, then wait (bounded) for a clean exit.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            Signal(15);
        }
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGSTOP: the process freezes (holding its locks and sockets), as a stalled machine would.</summary>
    public void Pause() => Signal(19);

    /// <summary>SIGCONT: a frozen process resumes where it stopped.</summary>
    public void Resume() => Signal(18);

    private void Signal(int signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {_process.Id}");
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (OwnsDataDirectory)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Where the connector of this scheme listens (stomp, ws, ...), read from the broker's log.</summary>
    public string ListeningUri(string scheme)
    {
        string prefix = "listening on " + scheme + "://";
        foreach (var line in Lines)
        {
            int at = line.IndexOf(prefix, StringComparison.Ordinal);
            if (at >= 0)
            {
                return line[(at + "listening on ".Length)..].Split(' ')[0];
            }
        }
        throw new InvalidOperationException($"the broker logged no {scheme}:// connector:\n" + string.Join('\n', Lines));
    }

    /// <summary>The port of the connector of this scheme.</summary>
    public int PortOf(string scheme)
    {
        string uri = ListeningUri(scheme);
        return int.Parse(uri[(uri.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"listening on ((?:tcp|nio)://\S+)")]
    private static partial Regex ListeningPattern();
}
