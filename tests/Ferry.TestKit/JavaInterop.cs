using System.Diagnostics;
using System.Text;

namespace Ferry.TestKit;

/// <summary>
/// Runs the real ActiveMQ 5.17 Java client (Debian's libactivemq-java) through the FerryInterop
/// driver, compiled once per test run.
/// </summary>
public static class JavaInterop
{
    public const string ClassPath = "/usr/share/java/activemq-client.jar:/usr/share/java/geronimo-jms_1.1_spec.jar:/usr/share/java/geronimo-j2ee-management-1.1-spec.jar:/usr/share/java/hawtbuf.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar";

    private static readonly Lazy<Task<string>> Compiled = new(CompileAsync);

    public static string SourceDirectory => Path.Combine(AppContext.BaseDirectory, "Interop", "java");

    private static async Task<string> CompileAsync()
    {
        if (!File.Exists("/usr/share/java/activemq-client.jar"))
        {
            throw new InvalidOperationException("libactivemq-java is not installed (apt-get install libactivemq-java): the interop tests need the real ActiveMQ client");
        }
        string output = Directory.CreateTempSubdirectory("ferry-java-").FullName;
        var (code, text) = await RunAsync("javac", ["-cp", ClassPath, "-d", output,
            Path.Combine(SourceDirectory, "FerryInterop.java"), Path.Combine(SourceDirectory, "FerryDurability.java"),
            Path.Combine(SourceDirectory, "StompInterop.java")], TimeSpan.FromMinutes(2));
        if (code != 0)
        {
            throw new InvalidOperationException("javac failed:\n" + text);
        }
        return output;
    }

    /// <summary>Runs one scenario against <paramref name="brokerUrl"/>; returns the exit code and all output.</summary>
    public static async Task<(int ExitCode, string Output)> RunScenarioAsync(string brokerUrl, string scenario, TimeSpan? timeout = null)
    {
        string classes = await Compiled.Value;
        return await RunAsync("java", ["-cp", classes + ":" + ClassPath, "FerryInterop", brokerUrl, scenario], timeout ?? TimeSpan.FromSeconds(90));
    }

    /// <summary>Runs the StompInterop driver (the Java side of STOMP/OpenWire exchanges).</summary>
    public static async Task<(int ExitCode, string Output)> RunStompInteropAsync(string brokerUrl, params string[] arguments)
    {
        string classes = await Compiled.Value;
        return await RunAsync("java", ["-cp", classes + ":" + ClassPath, "StompInterop", brokerUrl, .. arguments], TimeSpan.FromSeconds(90));
    }

    /// <summary>Runs a FerryDurability scenario (with its extra arguments).</summary>
    public static async Task<(int ExitCode, string Output)> RunDurabilityAsync(string brokerUrl, string scenario, params string[] arguments)
    {
        string classes = await Compiled.Value;
        return await RunAsync("java", ["-cp", classes + ":" + ClassPath, "FerryDurability", brokerUrl, scenario, .. arguments], TimeSpan.FromSeconds(150));
    }

    /// <summary>Starts a FerryDurability scenario as a process the caller watches line by line.</summary>
    public static async Task<Process> StartDurabilityAsync(string brokerUrl, string scenario, Action<string> onLine, params string[] arguments)
    {
        string classes = await Compiled.Value;
        var info = new ProcessStartInfo("java")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["-cp", classes + ":" + ClassPath, "FerryDurability", brokerUrl, scenario, .. arguments])
        {
            info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { onLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { onLine(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = new Process { StartInfo = info };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
            {
                return (-1, output + $"\n(timed out after {timeout.TotalSeconds} s)");
            }
        }
        process.WaitForExit();
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
