using Ferry.Ha.Locks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Ferry.Tests.Ha;

public sealed class SharedDirectoryLockTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ferry-lock-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // A long lease unless a test is about lease expiry: a loaded test host may delay renewals.
    private SharedDirectoryLock NewLock(TimeProvider time, string name, int leaseMilliseconds = 10_000) => new(_directory, name, new SharedDirectoryLockOptions
    {
        LockAcquireSleepInterval = TimeSpan.FromMilliseconds(50),
        LockKeepAlivePeriod = TimeSpan.FromMilliseconds(200),
        LeaseDuration = TimeSpan.FromMilliseconds(leaseMilliseconds),
    }, time, NullLogger.Instance);

    [Fact]
    public async Task Second_broker_waits_as_a_slave_until_the_master_releases_and_then_takes_a_higher_epoch()
    {
        var master = NewLock(TimeProvider.System, "a");
        await master.AcquireAsync(CancellationToken.None);
        Assert.Equal(1, master.Epoch);

        await using var slave = NewLock(TimeProvider.System, "b");
        var waiting = slave.AcquireAsync(CancellationToken.None);
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        await master.DisposeAsync(); // the master dies: its OS lock is released at once
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, slave.Epoch);
        slave.CheckFence();
    }

    [Fact]
    public async Task A_stuck_master_is_replaced_after_its_lease_and_is_fenced_off()
    {
        var stuckClock = new FakeTimeProvider(DateTimeOffset.UtcNow); // its renewals never fire: it is frozen
        await using var stuck = NewLock(stuckClock, "stuck", leaseMilliseconds: 600);
        await stuck.AcquireAsync(CancellationToken.None);

        await using var slave = NewLock(TimeProvider.System, "b", leaseMilliseconds: 600);
        await slave.AcquireAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, slave.Epoch);

        var fenced = Assert.Throws<IOException>(stuck.CheckFence);
        Assert.Contains("epoch 2", fenced.Message, StringComparison.Ordinal);
        Assert.True(stuck.Lost.IsCompleted);
        slave.CheckFence();
    }

    [Fact]
    public async Task Waiting_for_the_lock_can_be_cancelled()
    {
        await using var master = NewLock(TimeProvider.System, "a");
        await master.AcquireAsync(CancellationToken.None);
        await using var slave = NewLock(TimeProvider.System, "b");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var error = await Record.ExceptionAsync(() => slave.AcquireAsync(cts.Token));
        Assert.True(error is OperationCanceledException, $"slave epoch {slave.Epoch}, master epoch {master.Epoch}, lease: {File.ReadAllText(Path.Combine(_directory, "lease"))}");
    }
}
