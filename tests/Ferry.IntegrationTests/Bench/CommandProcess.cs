using System.Diagnostics;
using System.Globalization;

namespace Ferry.IntegrationTests.Bench;

/// <summary>
/// A real child process (a <c>ferry bench</c> command or a Java broker) whose output lines the test
/// watches; killed with its tree when disposed.
/// </summary>
public sealed class CommandProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    private CommandProcess(Process process) => _process = process;

    public int ProcessId => _process.Id;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Starts <c>dotnet ferry.dll bench ARGS</c>.</summary>
    public static CommandProcess Bench(params string[] arguments) =>
        Start("dotnet", [Ferry.TestKit.BrokerProcess.FerryDll, "bench", .. arguments]);

    public static CommandProcess Start(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        var command = new CommandProcess(new Process { StartInfo = info });
        command._process.OutputDataReceived += (_, e) => command.OnLine(e.Data);
        command._process.ErrorDataReceived += (_, e) => command.OnLine(e.Data);
        command._process.Start();
        command._process.BeginOutputReadLine();
        command._process.BeginErrorReadLine();
        return command;
    }

    private void OnLine(string? line)
    {
        if (line is not null)
        {
            lock (_lines)
            {
                _lines.Add(line);
            }
        }
    }

    /// <summary>Waits (bounded) for a line starting with <paramref name="prefix"/> and returns it.</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        string? found = null;
        await Ferry.TestKit.WaitFor.ConditionAsync(() =>
        {
            lock (_lines)
            {
                found = _lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            }
            return found is not null || _process.HasExited;
        }, timeout, $"a line starting with '{prefix}'");
        return found ?? throw new InvalidOperationException($"the process exited without a line starting with '{prefix}':\n{Output}");
    }

    /// <summary>Waits (bounded) for the exit; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>Runs to its exit (bounded), asserts exit code 0, and returns its parsed <c>summary:</c> line.</summary>
    public async Task<IReadOnlyDictionary<string, string>> SummaryAsync(TimeSpan timeout)
    {
        int code = await WaitForExitAsync(timeout);
        Assert.True(code == 0, $"exit code {code}:\n{Output}");
        string line;
        lock (_lines)
        {
            line = _lines.LastOrDefault(l => l.StartsWith("summary:", StringComparison.Ordinal))
                ?? throw new InvalidOperationException("no summary line:\n" + string.Join('\n', _lines));
        }
        return line["summary:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1]);
    }

    public static double Number(IReadOnlyDictionary<string, string> summary, string key) =>
        summary.TryGetValue(key, out string? value)
            ? double.Parse(value, CultureInfo.InvariantCulture)
            : throw new KeyNotFoundException($"summary has no '{key}': {string.Join(' ', summary.Select(kv => kv.Key + "=" + kv.Value))}");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(cts.Token);
        }
        _process.Dispose();
    }
}
