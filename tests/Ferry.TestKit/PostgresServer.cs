using System.Diagnostics;

namespace Ferry.TestKit;

/// <summary>
/// The PostgreSQL server the tests use: the one named by FERRYTEST_POSTGRES (scripts/test starts a
/// private cluster and sets it), or else a private cluster started here with scripts/start-postgres
/// and stopped when the test process exits. If neither works the tests fail with the reason.
/// Each test takes its own table prefix, so tests never see each other's rows.
/// </summary>
public static class PostgresServer
{
    public const string Variable = "FERRYTEST_POSTGRES";

    private static readonly Lazy<string> Server = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _prefixes;

    public static string ConnectionString => Server.Value;

    /// <summary>A table prefix no other test uses.</summary>
    public static string NewTablePrefix() => $"t{Environment.ProcessId}_{Interlocked.Increment(ref _prefixes)}_{Guid.NewGuid().ToString("N")[..6]}_";

    private static string Start()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } given)
        {
            return given;
        }
        string script = Path.Combine(RepositoryRoot(), "scripts", "start-postgres");
        string dir = Directory.CreateTempSubdirectory("ferry-testkit-pg-").FullName;
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(dir);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot run " + script);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{script} did not finish within 120 s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"PostgreSQL is needed by this test: {Variable} is not set and {script} failed ({process.ExitCode}): {stderr.Result}");
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(dir);
        return stdout.Result.Trim();
    }

    private static void Stop(string dir)
    {
        using var process = Process.Start("bash", [Path.Combine(RepositoryRoot(), "scripts", "stop-postgres"), dir]);
        process.WaitForExit(TimeSpan.FromSeconds(30));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ferry.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"PostgreSQL is needed by this test: {Variable} is not set and the repository (scripts/start-postgres) was not found above {AppContext.BaseDirectory}");
    }
}
