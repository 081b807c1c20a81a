using System.Collections.Concurrent;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Microsoft.Extensions.Logging;

namespace Ferry.Protocol.Transport;

// The supervisor: one task per transport (never async void) that connects, reconnects after a loss,
// keeps warm backups, moves back to a priority broker and obeys ConnectionControl. Every wait in it
// is a TimeProvider delay or a link start bounded by the endpoint's connectionTimeout, and all of
// them end when the transport is disposed.
public sealed partial class FailoverTransport
{
    private readonly List<Link> _backups = [];
    private readonly ConcurrentQueue<Link> _retired = new();
    private bool _everConnected;
    private long _outageStarted;
    private Exception? _lastOpenError;

    /// <summary>For tests: sees every back-off wait of the reconnect loop before it starts.</summary>
    internal Action<TimeSpan>? ReconnectDelayObserver { get; set; }

    /// <summary>For tests: sees every connection attempt (the endpoint's address).</summary>
    internal Action<string>? ConnectAttemptObserver { get; set; }

    private async Task SuperviseAsync()
    {
        var stop = _stop.Token;
        var maintenance = new FailoverBackoff(_options, _random);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await DisposeRetiredAsync();
                Link? current;
                lock (_gate)
                {
                    current = _link;
                }
                if (current is null)
                {
                    if (!await ConnectAsync(stop))
                    {
                        return;
                    }
                    maintenance.Reset();
                    continue;
                }
                // Work on a healthy link is abandoned as soon as that link is lost: reconnecting comes first.
                using var step = CancellationTokenSource.CreateLinkedTokenSource(stop, current.LostToken);
                try
                {
                    if (await FollowControlAsync(current, step.Token))
                    {
                        continue;
                    }
                    if (_options.PriorityBackup && !IsPriority(current.Endpoint))
                    {
                        if (!await MoveToPriorityAsync(current, step.Token))
                        {
                            await DelayAsync(maintenance.Next(), wakeable: true, step.Token);
                        }
                        continue;
                    }
                    if (_options.Backup && BackupCount() < _options.BackupPoolSize)
                    {
                        if (!await BuildBackupsAsync(current, step.Token))
                        {
                            await DelayAsync(maintenance.Next(), wakeable: true, step.Token);
                        }
                        continue;
                    }
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    continue;
                }
                maintenance.Reset();
                await _wake.Reader.ReadAsync(stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug in the loop must not leave callers waiting for a reconnect that never comes.
            LogSupervisorFailed(_logger, ex);
            FailForGood(new TransportClosedException("Failover transport stopped by an internal error: " + ex.Message, ex), raiseFailed: true);
        }
    }

    /// <summary>
    /// Rounds over the URI list until a link is up (true) or the attempt limit is reached (false;
    /// the transport then failed for good). Before the first reconnect attempt after a loss it waits
    /// <c>initialReconnectDelay</c>, as ActiveMQ does, unless a warm backup is at hand.
    /// </summary>
    private async Task<bool> ConnectAsync(CancellationToken stop)
    {
        bool startup = !_everConnected;
        int limit = startup && _options.StartupMaxReconnectAttempts != -1 ? _options.StartupMaxReconnectAttempts : _options.MaxReconnectAttempts;
        if (!startup && limit == 0)
        {
            FailForGood(new TransportClosedException($"Connection to {UriList()} lost and maxReconnectAttempts=0: not reconnecting"), raiseFailed: true);
            return false;
        }
        var backoff = new FailoverBackoff(_options, _random);
        if (!startup && BackupCount() == 0)
        {
            await DelayAsync(backoff.Next(), wakeable: false, stop);
        }
        int failures = 0;
        Exception? lastError = null;
        while (true)
        {
            while (TakeBackup() is { } backup)
            {
                if (await TryActivateAsync(backup, stop))
                {
                    return true;
                }
            }
            foreach (var endpoint in ConnectList())
            {
                stop.ThrowIfCancellationRequested();
                var link = await TryOpenAsync(endpoint, stop);
                if (link is null)
                {
                    lastError = _lastOpenError;
                    continue;
                }
                if (await TryActivateAsync(link, stop))
                {
                    return true;
                }
                lastError = _lastOpenError;
            }
            failures++;
            if (limit != -1 && failures >= limit)
            {
                string what = startup ? "startupMaxReconnectAttempts" : "maxReconnectAttempts";
                FailForGood(new TransportClosedException(
                    $"Failed to connect to {UriList()} after {failures} attempt(s) ({what}={limit}): {lastError?.Message ?? "no URI available"}",
                    lastError ?? new IOException("no URI available")), raiseFailed: true);
                return false;
            }
            if (failures == 1 || (_options.WarnAfterReconnectAttempts > 0 && failures % _options.WarnAfterReconnectAttempts == 0))
            {
                LogStillConnecting(_logger, UriList(), failures, lastError?.Message ?? "?");
            }
            await DelayAsync(backoff.Next(), wakeable: false, stop);
        }
    }

    /// <summary>Connects one link (socket, WireFormatInfo, BrokerInfo), bounded by the endpoint's connectionTimeout; null if it failed.</summary>
    private async Task<Link?> TryOpenAsync(Endpoint endpoint, CancellationToken token)
    {
        ConnectAttemptObserver?.Invoke(endpoint.Address);
        var link = new Link(endpoint, new OpenWireTransport(endpoint.Options, _time, _loggers.CreateLogger<OpenWireTransport>()), _logger);
        link.Transport.OnCommand = command => OnLinkCommandAsync(link, command);
        link.Transport.OnUnmatchedResponse = response => OnLinkResponseAsync(response);
        link.Transport.Failed += (_, e) => OnLinkFailed(link, e.Reason ?? "closed");
        try
        {
            await link.Transport.StartAsync(token);
            return link;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            _lastOpenError = ex;
            LogConnectFailed(_logger, endpoint.Address, ex.Message);
            lock (_gate)
            {
                _lastFailedKey = endpoint.Key;
            }
            await link.DisposeAsync();
            return null;
        }
        catch
        {
            await link.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Makes <paramref name="link"/> the current one: after a loss, ConnectionControl{faultTolerant}
    /// and the ConnectionInfos (marked failoverReconnect, each awaited), then the rest of the state,
    /// the unanswered requests and the backlog, in that order, all before anyone else can send.
    /// False (and the link disposed) if the broker refused or the link died meanwhile.
    /// </summary>
    private async Task<bool> TryActivateAsync(Link link, CancellationToken stop)
    {
        var connections = _tracker.RestoreConnections();
        var handshakes = new List<Outgoing>();
        lock (_gate)
        {
            if (_failure is not null)
            {
                _retired.Enqueue(link);
                return false;
            }
            _candidate = link;
            if (_everConnected)
            {
                link.Transport.SendPrepared(new ConnectionControl { CommandId = ++_commandId, FaultTolerant = true });
            }
            foreach (var info in connections)
            {
                info.CommandId = ++_commandId;
                info.ResponseRequired = true;
                var handshake = new Outgoing(info) { Internal = true, IsRequest = true, Written = true };
                _pending[info.CommandId] = handshake;
                handshakes.Add(handshake);
                link.Transport.SendPrepared(info);
            }
        }
        try
        {
            foreach (var handshake in handshakes)
            {
                var answered = await Task.WhenAny(handshake.Done.Task, link.Lost.Task)
                    .WaitAsync(link.Endpoint.Options.ConnectionTimeout, _time, stop);
                if (answered != handshake.Done.Task)
                {
                    throw new IOException($"link to {link.Endpoint.Address} lost during the replay");
                }
                if (await handshake.Done.Task is ExceptionResponse refused)
                {
                    throw new IOException($"broker at {link.Endpoint.Address} refused the replayed ConnectionInfo: {refused.Exception}");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or TimeoutException)
        {
            _lastOpenError = ex;
            LogReplayFailed(_logger, link.Endpoint.Address, ex.Message);
            AbortCandidate(link, handshakes);
            return false;
        }
        catch
        {
            AbortCandidate(link, handshakes);
            throw;
        }

        List<Outgoing> resent;
        bool resumed;
        string? outage = null;
        lock (_gate)
        {
            if (_failure is not null || link.Lost.Task.IsCompleted)
            {
                _candidate = null;
                _retired.Enqueue(link);
                return false;
            }
            foreach (var command in _tracker.RestoreState())
            {
                link.Transport.SendPrepared(command);
            }
            resent = [];
            foreach (var o in _pending.Values.ToList())
            {
                if (o.Internal || !o.Written)
                {
                    continue;
                }
                o.WaitingSince = null;
                if (!_tracker.IsReplayed(o.Command))
                {
                    if (o.Command is ConnectionInfo)
                    {
                        // Replayed above as a failoverReconnect copy, which the broker accepted.
                        _pending.Remove(o.Command.CommandId);
                        o.Complete(new Response { CorrelationId = o.Command.CommandId });
                        continue;
                    }
                    link.Transport.SendPrepared(o.Command);
                    resent.Add(o);
                }
            }
            while (_backlog.First is { } node)
            {
                _backlog.RemoveFirst();
                node.Value.Node = null;
                if (!WriteLocked(link, node.Value))
                {
                    // Died under us: put it back first in line for the next link.
                    node.Value.Node = _backlog.AddFirst(node.Value);
                    break;
                }
            }
            _candidate = null;
            if (link.Lost.Task.IsCompleted)
            {
                _retired.Enqueue(link);
                return false;
            }
            _link = link;
            _lastFailedKey = null;
            _timeoutTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            resumed = _everConnected;
            if (resumed)
            {
                outage = $"{_time.GetElapsedTime(_outageStarted).TotalMilliseconds:0} ms";
            }
            _everConnected = true;
        }
        foreach (var handshake in handshakes)
        {
            handshake.Done.TrySetResult(null);
        }
        if (link.Transport.BrokerInfo is { } brokerInfo && OnCommand is { } handler)
        {
            // The link received it while it was starting, before it was this transport's link.
            await handler(brokerInfo);
        }
        if (resumed)
        {
            LogResumed(_logger, link.Endpoint.Address, outage!, resent.Count);
            Raise(Resumed, new TransportEventArgs(link.Endpoint.Address, $"reconnected after {outage}"));
        }
        else
        {
            LogConnected(_logger, link.Endpoint.Address);
            _firstConnect.TrySetResult();
        }
        _wake.Writer.TryWrite(true);
        return true;
    }

    private void AbortCandidate(Link link, List<Outgoing> handshakes)
    {
        lock (_gate)
        {
            if (_candidate == link)
            {
                _candidate = null;
            }
            foreach (var handshake in handshakes)
            {
                _pending.Remove(handshake.Command.CommandId);
            }
            _lastFailedKey = link.Endpoint.Key;
        }
        _retired.Enqueue(link);
    }

    /// <summary>A link ended: if it was the current one, start reconnecting (the supervisor does the work).</summary>
    private void OnLinkFailed(Link link, string reason)
    {
        link.MarkLost();
        List<Action>? after;
        lock (_gate)
        {
            if (_backups.Remove(link))
            {
                _retired.Enqueue(link);
                return;
            }
            if (_link != link || _failure is not null)
            {
                return;
            }
            after = LinkLostLocked(link, reason);
        }
        RunAll(after);
    }

    /// <summary>
    /// The current link is gone (or is being left): from now on sends wait in the backlog, open
    /// transactions are rolled back, a commit in flight is in doubt, a rollback in flight is done,
    /// other unanswered requests wait to be resent. Returns what to do after the lock: the event.
    /// </summary>
    private List<Action> LinkLostLocked(Link link, string reason)
    {
        _link = null;
        _retired.Enqueue(link);
        _lastFailedKey = link.Endpoint.Key;
        _outageStarted = _time.GetTimestamp();
        var lost = _tracker.OnInterrupted();
        var failures = new List<Action>();
        long now = _time.GetTimestamp();
        foreach (var (id, o) in _pending.ToList())
        {
            switch (o.Command)
            {
                case TransactionInfo { TransactionId: { } tx, Kind: TransactionType.CommitOnePhase or TransactionType.CommitTwoPhase or TransactionType.Prepare }:
                    _pending.Remove(id);
                    failures.Add(() => o.Fail(new TransactionRolledBackException(tx, inDoubt: true)));
                    break;
                case TransactionInfo { TransactionId: { } tx, Kind: TransactionType.Rollback or TransactionType.Forget or TransactionType.End }:
                    _pending.Remove(id);
                    _tracker.Forget(tx);
                    failures.Add(() => o.Complete(new Response { CorrelationId = id }));
                    break;
                case Message { TransactionId: { } tx } when lost.Contains(tx):
                    _pending.Remove(id);
                    failures.Add(() => o.Fail(new TransactionRolledBackException(tx, inDoubt: false)));
                    break;
                default:
                    o.WaitingSince = now;
                    break;
            }
        }
        ArmTimeoutLocked();
        _wake.Writer.TryWrite(true);
        string address = link.Endpoint.Address;
        int waiting = _pending.Count + _backlog.Count;
        failures.Insert(0, () =>
        {
            LogInterrupted(_logger, address, reason, lost.Count, waiting);
            Raise(Interrupted, new TransportEventArgs(address, reason));
        });
        return failures;
    }

    /// <summary>Leaves the current link for <paramref name="next"/> (rebalance, reconnectTo, priority): a loss followed by a reconnect.</summary>
    private async Task<bool> SwitchToAsync(Link current, Link next, string reason)
    {
        List<Action>? after = null;
        bool usable;
        lock (_gate)
        {
            if (_link == current && _failure is null)
            {
                after = LinkLostLocked(current, reason);
            }
            // If the current link died meanwhile, the new one is just as good for reconnecting.
            usable = _failure is null && (_link is null);
        }
        if (!usable)
        {
            _retired.Enqueue(next);
            return false;
        }
        RunAll(after);
        // The old link is gone now; only disposal may interrupt the activation of the new one.
        return await TryActivateAsync(next, _stop.Token);
    }

    private async Task<bool> MoveToPriorityAsync(Link current, CancellationToken stop)
    {
        foreach (var endpoint in ConnectList().Where(IsPriority))
        {
            var link = await TryOpenAsync(endpoint, stop);
            if (link is not null)
            {
                LogMovingToPriority(_logger, current.Endpoint.Address, endpoint.Address);
                await SwitchToAsync(current, link, $"moving back to priority broker {endpoint.Address}");
                return true;
            }
        }
        return false;
    }

    /// <summary>Opens standby links to URIs other than the current one, up to backupPoolSize. False if none could be added.</summary>
    private async Task<bool> BuildBackupsAsync(Link current, CancellationToken stop)
    {
        bool added = false;
        foreach (var endpoint in ConnectList())
        {
            if (BackupCount() >= _options.BackupPoolSize)
            {
                break;
            }
            bool skip;
            lock (_gate)
            {
                skip = endpoint.Key == current.Endpoint.Key || _backups.Exists(b => b.Endpoint.Key == endpoint.Key);
            }
            if (skip)
            {
                continue;
            }
            var link = await TryOpenAsync(endpoint, stop);
            if (link is null)
            {
                continue;
            }
            lock (_gate)
            {
                if (_failure is null && !link.Lost.Task.IsCompleted)
                {
                    _backups.Add(link);
                    added = true;
                    LogBackupReady(_logger, endpoint.Address);
                    continue;
                }
            }
            _retired.Enqueue(link);
        }
        return added;
    }

    private int BackupCount()
    {
        lock (_gate)
        {
            return _backups.Count;
        }
    }

    private Link? TakeBackup()
    {
        lock (_gate)
        {
            _backups.RemoveAll(b => b.Lost.Task.IsCompleted && Retire(b));
            if (_backups.Count == 0)
            {
                return null;
            }
            int index = _options.Randomize ? _random.Next(_backups.Count) : 0;
            var backup = _backups[index];
            _backups.RemoveAt(index);
            return backup;
        }
    }

    private bool Retire(Link link)
    {
        _retired.Enqueue(link);
        return true;
    }

    /// <summary>Waits <paramref name="delay"/> on the injected clock; a wakeable wait also ends on a wake-up (ConnectionControl, a loss).</summary>
    private async Task DelayAsync(TimeSpan delay, bool wakeable, CancellationToken stop)
    {
        ReconnectDelayObserver?.Invoke(delay);
        if (delay <= TimeSpan.Zero)
        {
            stop.ThrowIfCancellationRequested();
            return;
        }
        if (!wakeable)
        {
            await Task.Delay(delay, _time, stop);
            return;
        }
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var sleep = Task.Delay(delay, _time, either.Token);
        var woken = _wake.Reader.WaitToReadAsync(either.Token).AsTask();
        await Task.WhenAny(sleep, woken);
        await either.CancelAsync();
        _wake.Reader.TryRead(out _);
        stop.ThrowIfCancellationRequested();
    }

    private async Task DisposeRetiredAsync()
    {
        while (_retired.TryDequeue(out var link))
        {
            await link.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 419, Level = LogLevel.Debug, Message = "Closing the link to {Address} failed: {Reason}")]
    private static partial void LogLinkDisposeFailed(ILogger logger, string address, string reason);

    /// <summary>Commands from a link. Only the current link's (or the one being activated) reach OnCommand.</summary>
    private async ValueTask OnLinkCommandAsync(Link link, Command command)
    {
        bool active = link == Volatile.Read(ref _link) || link == Volatile.Read(ref _candidate);
        if (!active)
        {
            return;
        }
        switch (command)
        {
            case ConnectionControl control:
                HandleConnectionControl(control);
                break;
            case MessageDispatch dispatch:
                _tracker.TrackDispatch(dispatch);
                break;
        }
        if (OnCommand is { } handler)
        {
            await handler(command);
        }
    }

    /// <summary>Responses are correlated here, whichever link carried them: command ids belong to this transport.</summary>
    private ValueTask OnLinkResponseAsync(Response response)
    {
        Outgoing? outgoing;
        lock (_gate)
        {
            if (_pending.Remove(response.CorrelationId, out outgoing))
            {
                _tracker.TrackResponse(outgoing.Command, response);
            }
        }
        if (outgoing is not null)
        {
            outgoing.Complete(response);
        }
        else if (response is ExceptionResponse refused)
        {
            // Most likely a replayed consumer or producer the new broker refused.
            LogReplayRefused(_logger, response.CorrelationId, refused.Exception?.ToString() ?? "?");
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>One broker endpoint: its URI as written and its tcp options (nested.* applied).</summary>
    private sealed record Endpoint(string Uri, TcpTransportOptions Options)
    {
        public string Key { get; } = FailoverOptions.EndpointKey(Options);
        public string Address { get; } = $"{Options.Scheme}://{Options.Host}:{Options.Port}";
    }

    /// <summary>One connection attempt's link and the signal that it ended.</summary>
    private sealed class Link(Endpoint endpoint, OpenWireTransport transport, ILogger logger)
    {
        // Never disposed (it has no timer): tokens taken from it stay valid after the link is gone.
        private readonly CancellationTokenSource _lost = new();
        private int _disposed;

        public Endpoint Endpoint { get; } = endpoint;
        public OpenWireTransport Transport { get; } = transport;
        public TaskCompletionSource Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationToken LostToken => _lost.Token;

        /// <summary>Signals the end of the link. Call outside the transport's lock (token callbacks run inline).</summary>
        public void MarkLost()
        {
            if (Lost.TrySetResult())
            {
                _lost.Cancel();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            MarkLost();
            try
            {
                await Transport.DisposeAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // E.g. an OnCommand handler that threw ended the link's read loop with that exception.
                LogLinkDisposeFailed(logger, Endpoint.Address, ex.Message);
            }
        }
    }
}
