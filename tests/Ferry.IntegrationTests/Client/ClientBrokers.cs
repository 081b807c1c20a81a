using System.Diagnostics;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Client;

/// <summary>A broker the client suite runs against: its URI, and what it logged if a test fails.</summary>
public interface IClientTestBroker : IAsyncLifetime
{
    string Uri { get; }

    /// <summary>Fails the test if the broker logged an error it should not have.</summary>
    void AssertHealthy();
}

/// <summary>A real <c>ferry</c> process on a loopback port.</summary>
public sealed class FerryClientBroker : IClientTestBroker
{
    private BrokerProcess _broker = null!;

    public string Uri => _broker.Uri;

    public async Task InitializeAsync() => _broker = await BrokerProcess.StartAsync();

    public void AssertHealthy() => _broker.AssertNoErrors();

    public async Task DisposeAsync() => await _broker.DisposeAsync();
}

/// <summary>
/// The real Apache ActiveMQ 5.17 broker (Debian's activemq-broker.jar), embedded, non-persistent, started by
/// Interop/java/ActiveMQTestBroker.java on a free loopback port and killed at the end.
/// </summary>
public sealed class ActiveMQClientBroker : IClientTestBroker
{
    private const string BrokerJar = "/usr/share/java/activemq-broker.jar";
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;

    public string Uri { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (!File.Exists(BrokerJar))
        {
            throw new InvalidOperationException($"{BrokerJar} is missing (apt-get install libactivemq-java): the client suite needs the real ActiveMQ broker");
        }
        var info = new ProcessStartInfo("java")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Port 0: the broker binds 127.0.0.1 on a free port and prints it. It stops by itself after 15 minutes.
        foreach (var a in (string[])["-cp", BrokerJar + ":" + JavaInterop.ClassPath, Path.Combine(JavaInterop.SourceDirectory, "ActiveMQTestBroker.java"), "0", "900"])
        {
            info.ArgumentList.Add(a);
        }
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("ActiveMQ exited before it was ready:\n" + Log()));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Uri = await _ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
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
        if (line.StartsWith("READY ", StringComparison.Ordinal))
        {
            _ready.TrySetResult(line["READY ".Length..].Trim());
        }
    }

    private string Log()
    {
        lock (_lines)
        {
            return string.Join('\n', _lines);
        }
    }

    public void AssertHealthy()
    {
        if (_process is { HasExited: true })
        {
            throw new InvalidOperationException("ActiveMQ exited:\n" + Log());
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(cts.Token);
        }
        _process.Dispose();
    }
}
