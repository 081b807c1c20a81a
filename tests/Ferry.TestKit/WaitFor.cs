namespace Ferry.TestKit;

/// <summary>Polls a condition instead of sleeping a fixed time.</summary>
public static class WaitFor
{
    public static async Task ConditionAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>Like <see cref="ConditionAsync(Func{bool}, TimeSpan, string)"/> for a condition that must await.</summary>
    public static async Task ConditionAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }
            await Task.Delay(20);
        }
    }
}
