using System.Runtime.CompilerServices;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using Ferry.Benchmarks;

// Pick benchmarks with BenchmarkDotNet's switches, e.g.
//   dotnet run -c Release --project bench/Ferry.Benchmarks -- --filter '*' --job short
// Results go to bench/Ferry.Benchmarks/BenchmarkDotNet.Artifacts (git-ignored) unless --artifacts says otherwise.
if (args.Length > 0 && args[0] == "--broker-throughput")
{
    await BrokerThroughput.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "--client-comparison")
{
    Environment.ExitCode = await ClientComparison.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "--journal")
{
    await JournalGroupCommit.RunAsync(args[1..]);
    return;
}

var config = DefaultConfig.Instance
    .AddColumn(StatisticColumn.OperationsPerSecond)
    .WithArtifactsPath(Path.Combine(ProjectDirectory(), "BenchmarkDotNet.Artifacts"));
BenchmarkSwitcher.FromAssembly(typeof(OpenWireCodecBenchmarks).Assembly).Run(args, config);

// The source folder when the build kept real paths, else next to the binaries.
static string ProjectDirectory([CallerFilePath] string sourceFile = "")
{
    string? dir = Path.GetDirectoryName(sourceFile);
    return dir is not null && Directory.Exists(dir) ? dir : AppContext.BaseDirectory;
}
