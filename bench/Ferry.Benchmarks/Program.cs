using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using Ferry.Benchmarks;

// Pick benchmarks with BenchmarkDotNet's switches, e.g.
//   dotnet run -c Release --project bench/Ferry.Benchmarks -- --filter '*' --job short
var config = DefaultConfig.Instance.AddColumn(StatisticColumn.OperationsPerSecond);
BenchmarkSwitcher.FromAssembly(typeof(OpenWireCodecBenchmarks).Assembly).Run(args, config);
