using Ferry.Client;

namespace Ferry.Host.Bench;

/// <summary><c>ferry bench ...</c>: load generators in the spirit of ActiveMQ's producer and consumer tools.</summary>
internal static class BenchCommand
{
    public const string Usage = BenchOptions.Usage;

    public static async Task<int> RunAsync(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"ferry bench: {ex.Message}\n\n{Usage}");
            return 2;
        }
        using var stop = new StopSignal();
        try
        {
            return options.Verb switch
            {
                "producer" => await MessagingBench.ProduceAsync(options, stop.Token),
                "consumer" => await MessagingBench.ConsumeAsync(options, stop.Token),
                "roundtrip" => await MessagingBench.RoundTripAsync(options, stop.Token),
                _ => await ConnectionsBench.RunAsync(options, stop.Token),
            };
        }
        catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("ferry bench: interrupted");
            return 130;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or MessagingException or IOException
            or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"ferry bench: {ex.Message}");
            return 1;
        }
    }
}
