using System.Threading.Channels;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Protocol.Transport;

/// <summary>
/// <c>failover:(uri,uri)?options</c>: an <see cref="IOpenWireTransport"/> that keeps one
/// <see cref="OpenWireTransport"/> link to one of several brokers, and when it is lost reconnects
/// (with back-off and jitter) and replays the client's state (<see cref="ConnectionStateTracker"/>)
/// and its unanswered requests on the new link, so callers see a pause, not an error.
/// <para>
/// Commands are numbered by this transport, not by the link, so a request resent after a reconnect
/// keeps its command id (its response still finds it) and a resent message keeps its message id
/// (the broker's producer audit drops it if it was already stored). While disconnected, sends and
/// requests wait in call order (bounded by <c>timeout</c> and the caller's token) and go out on the
/// next link after the replay. Acks, removes and ShutdownInfo are not held back: they are stale
/// once the link is gone (the broker requeued the messages), so they are answered locally.
/// </para>
/// The partial files: <c>.Reconnect</c> (the supervisor loop, link loss, replay, backups and
/// priority), <c>.Control</c> (ConnectionControl and the URI lists), <c>.Log</c>.
/// </summary>
public sealed partial class FailoverTransport : IOpenWireTransport
{
    private readonly FailoverOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly Random _random;
    private readonly ConnectionStateTracker _tracker;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    // Guarded by _gate: the link, the waiting and pending commands, the URI lists. Never held across
    // an await or while raising an event or calling OnCommand.
    private readonly object _gate = new();
    private readonly LinkedList<Outgoing> _backlog = new();
    private readonly SortedDictionary<int, Outgoing> _pending = new();
    private Link? _link;
    private Link? _candidate;
    private Exception? _failure;
    private ITimer? _timeoutTimer;
    private bool _started;
    private int _commandId;
    private Task _supervisor = Task.CompletedTask;
    private int _disposed;

    public FailoverTransport(FailoverOptions options, TimeProvider? time = null, ILoggerFactory? loggers = null)
        : this(options, time, loggers, random: null)
    {
    }

    /// <summary>For tests: a seeded <paramref name="random"/> makes URI order and jitter repeatable.</summary>
    internal FailoverTransport(FailoverOptions options, TimeProvider? time, ILoggerFactory? loggers, Random? random)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Uris.Count == 0)
        {
            throw new ArgumentException("A failover transport needs at least one URI", nameof(options));
        }
        _options = options;
        _time = time ?? TimeProvider.System;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<FailoverTransport>();
        _random = random ?? Random.Shared;
        _tracker = new ConnectionStateTracker(options.TrackMessages, options.MaxCacheSize);
        _uris = options.Uris.Select(u => new Endpoint(u, options.Endpoint(u))).ToList();
        _priorityKeys = options.PriorityUris.Count > 0
            ? options.PriorityUris.Select(u => FailoverOptions.EndpointKey(options.Endpoint(u))).ToHashSet(StringComparer.Ordinal)
            : [_uris[0].Key];
    }

    public FailoverOptions Options => _options;

    /// <summary>What would be replayed on a new link now (for diagnostics and tests).</summary>
    public ConnectionStateTracker StateTracker => _tracker;

    public Func<Command, ValueTask>? OnCommand { get; set; }
    public event EventHandler<TransportEventArgs>? Interrupted;
    public event EventHandler<TransportEventArgs>? Resumed;
    public event EventHandler<TransportEventArgs>? Failed;

    public BrokerInfo? BrokerInfo => Volatile.Read(ref _link)?.Transport.BrokerInfo;
    public string? RemoteAddress => Volatile.Read(ref _link)?.Endpoint.Address;
    public bool IsFaultTolerant => true;
    public bool IsConnected => Volatile.Read(ref _link) is not null;

    /// <summary>
    /// True if <paramref name="transactionId"/> was open when a link was lost: the broker rolled it
    /// back, and its commit will fail with <see cref="TransactionRolledBackException"/>.
    /// </summary>
    public bool IsTransactionRolledBackByFailover(TransactionId transactionId) => _tracker.IsRolledBackByFailover(transactionId);

    /// <summary>
    /// Connects to the first broker that answers, trying the URIs in rounds with back-off until
    /// <c>startupMaxReconnectAttempts</c> rounds failed (then it throws <see cref="TransportClosedException"/>),
    /// <c>timeout</c> passed (<see cref="FailoverTimeoutException"/>) or <paramref name="cancellationToken"/>
    /// fires. A start that fails or is cancelled leaves the transport closed.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (_started)
            {
                throw new InvalidOperationException("The failover transport is already started");
            }
            _started = true;
            _supervisor = Task.Run(SuperviseAsync, CancellationToken.None);
        }
        try
        {
            var first = _firstConnect.Task;
            await (_options.Timeout == Timeout.InfiniteTimeSpan
                ? first.WaitAsync(cancellationToken)
                : first.WaitAsync(_options.Timeout, _time, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            FailForGood(new TransportClosedException($"Start of the failover transport to {UriList()} was cancelled"), raiseFailed: false);
            throw;
        }
        catch (TimeoutException)
        {
            var error = new FailoverTimeoutException($"Failover timeout of {_options.Timeout.TotalMilliseconds:0} ms reached: no broker of {UriList()} answered");
            FailForGood(new TransportClosedException(error.Message, error), raiseFailed: true);
            throw error;
        }
    }

    public async Task<Response> RequestAsync(Command command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.ResponseRequired = true;
        var outgoing = new Outgoing(command) { IsRequest = true };
        await WaitForRoomAsync(cancellationToken);
        await SubmitAsync(outgoing);
        try
        {
            return (await outgoing.Done.Task.WaitAsync(cancellationToken))!;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Abandon(outgoing);
            throw;
        }
    }

    public ValueTask SendAsync(Command command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        var room = WaitForRoomAsync(cancellationToken);
        if (!room.IsCompletedSuccessfully)
        {
            return SendAfterRoomAsync(room, command, cancellationToken);
        }
        var outgoing = new Outgoing(command);
        var submitted = SubmitAsync(outgoing);
        if (submitted.IsCompletedSuccessfully && outgoing.Done.Task.IsCompletedSuccessfully)
        {
            return ValueTask.CompletedTask;
        }
        return WaitSentAsync(submitted, outgoing, cancellationToken);
    }

    /// <summary>
    /// Back-pressure: waits while the current link's output is over its limit. A link that is lost
    /// meanwhile releases the wait; the command then waits for the next link like any other
    /// (bounded by <c>timeout</c> if set).
    /// </summary>
    private ValueTask WaitForRoomAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _link) is { } link ? link.Transport.WaitForRoomAsync(cancellationToken) : ValueTask.CompletedTask;

    private async ValueTask SendAfterRoomAsync(ValueTask room, Command command, CancellationToken cancellationToken)
    {
        await room;
        var outgoing = new Outgoing(command);
        await WaitSentAsync(SubmitAsync(outgoing), outgoing, cancellationToken);
    }

    private async ValueTask WaitSentAsync(ValueTask submitted, Outgoing outgoing, CancellationToken cancellationToken)
    {
        await submitted;
        try
        {
            await outgoing.Done.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Abandon(outgoing);
            throw;
        }
    }

    /// <summary>
    /// Numbers the command and sends it on the link, or, while disconnected, answers it locally
    /// (stale acks and removes) or queues it for the next link. Throws once the transport failed for good.
    /// </summary>
    private ValueTask SubmitAsync(Outgoing outgoing)
    {
        var command = outgoing.Command;
        List<Action>? after = null;
        MessageDispatch? emptyPull = null;
        lock (_gate)
        {
            if (_failure is { } failure)
            {
                throw Closed(failure);
            }
            command.CommandId = ++_commandId;
            if (RefuseLostTransactionLocked(outgoing))
            {
                return ValueTask.CompletedTask;
            }
            if (_link is { } link)
            {
                if (WriteLocked(link, outgoing))
                {
                    return ValueTask.CompletedTask;
                }
                if (_link == link)
                {
                    after = LinkLostLocked(link, "send failed: link closed");
                }
            }
            if (_link is null)
            {
                switch (command)
                {
                    case ShutdownInfo:
                        outgoing.Complete(null);
                        break;
                    case RemoveInfo or MessageAck:
                        // Stale once the link is gone: the broker dropped the connection's consumers and requeued their messages.
                        _tracker.Track(command);
                        outgoing.Complete(command.ResponseRequired ? new Response { CorrelationId = command.CommandId } : null);
                        break;
                    case MessagePull { Timeout: not 0 } pull:
                        // It cannot be honoured in time: answer as the broker would after the timeout (an empty dispatch).
                        emptyPull = new MessageDispatch { ConsumerId = pull.ConsumerId, Destination = pull.Destination };
                        outgoing.Complete(null);
                        break;
                    default:
                        outgoing.WaitingSince = _time.GetTimestamp();
                        outgoing.Node = _backlog.AddLast(outgoing);
                        ArmTimeoutLocked();
                        break;
                }
            }
        }
        RunAll(after);
        return emptyPull is not null && OnCommand is { } handler ? handler(emptyPull) : ValueTask.CompletedTask;
    }

    /// <summary>Sends on <paramref name="link"/> and tracks; false if the link is closed (nothing tracked then).</summary>
    private bool WriteLocked(Link link, Outgoing outgoing)
    {
        var command = outgoing.Command;
        if (!link.Transport.SendPrepared(command))
        {
            return false;
        }
        _tracker.Track(command);
        outgoing.WaitingSince = null;
        if (outgoing.IsRequest && !outgoing.Done.Task.IsCompleted)
        {
            outgoing.Written = true;
            _pending[command.CommandId] = outgoing;
        }
        else
        {
            outgoing.Complete(null);
        }
        return true;
    }

    /// <summary>
    /// A command of a transaction that a failover rolled back: a commit or a transacted sync send
    /// fails with <see cref="TransactionRolledBackException"/>; a rollback (or any other end of it)
    /// is answered locally; one-way sends and acks in it are dropped. Returns true if handled.
    /// </summary>
    private bool RefuseLostTransactionLocked(Outgoing outgoing)
    {
        var command = outgoing.Command;
        var tx = command switch
        {
            TransactionInfo info when info.Kind != TransactionType.Begin => info.TransactionId,
            Message message => message.TransactionId,
            MessageAck ack => ack.TransactionId,
            _ => null,
        };
        if (tx is null || !_tracker.IsRolledBackByFailover(tx))
        {
            return false;
        }
        if (command is TransactionInfo { Kind: TransactionType.CommitOnePhase or TransactionType.CommitTwoPhase or TransactionType.Prepare }
            || (command is Message && command.ResponseRequired))
        {
            LogTransactionRolledBack(_logger, tx.ToString() ?? "?", command.GetType().Name);
            outgoing.Fail(new TransactionRolledBackException(tx, inDoubt: false));
            return true;
        }
        if (command is TransactionInfo { Kind: TransactionType.Rollback or TransactionType.Forget })
        {
            _tracker.Forget(tx);
        }
        outgoing.Complete(command.ResponseRequired ? new Response { CorrelationId = command.CommandId } : null);
        return true;
    }

    /// <summary>The caller gave up (its token): forget the command unless it already went out.</summary>
    private void Abandon(Outgoing outgoing)
    {
        lock (_gate)
        {
            if (outgoing.Node is { } node)
            {
                _backlog.Remove(node);
                outgoing.Node = null;
            }
            _pending.Remove(outgoing.Command.CommandId);
        }
    }

    /// <summary>Gives up for good: every waiting and later call fails with <paramref name="failure"/>.</summary>
    private void FailForGood(Exception failure, bool raiseFailed)
    {
        List<Outgoing> waiting;
        lock (_gate)
        {
            if (_failure is not null)
            {
                return;
            }
            _failure = failure;
            waiting = [.. _backlog, .. _pending.Values];
            foreach (var o in _backlog)
            {
                o.Node = null;
            }
            _backlog.Clear();
            _pending.Clear();
            _timeoutTimer?.Dispose();
            _timeoutTimer = null;
        }
        _stop.Cancel();
        _firstConnect.TrySetException(failure);
        _ = _firstConnect.Task.Exception; // observed: nobody may be waiting in StartAsync
        foreach (var o in waiting)
        {
            o.Fail(Closed(failure));
        }
        if (raiseFailed)
        {
            LogGaveUp(_logger, UriList(), failure.Message);
            Raise(Failed, new TransportEventArgs(UriList(), failure.Message));
        }
    }

    private static Exception Closed(Exception failure) => failure as TransportClosedException is { } closed
        ? new TransportClosedException(closed.Message, closed)
        : new TransportClosedException(failure.Message, failure);

    /// <summary>Fails callers that waited longer than <c>timeout</c> for a link; re-arms for the next one.</summary>
    private void ArmTimeoutLocked()
    {
        if (_options.Timeout == Timeout.InfiniteTimeSpan || _link is not null)
        {
            return;
        }
        long? oldest = null;
        foreach (var o in _backlog.Concat(_pending.Values))
        {
            if (o.WaitingSince is { } since && (oldest is null || since < oldest))
            {
                oldest = since;
            }
        }
        if (oldest is null)
        {
            return;
        }
        var due = _options.Timeout - _time.GetElapsedTime(oldest.Value);
        if (due < TimeSpan.Zero)
        {
            due = TimeSpan.Zero;
        }
        _timeoutTimer ??= _time.CreateTimer(_ => ExpireWaiters(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timeoutTimer.Change(due, Timeout.InfiniteTimeSpan);
    }

    private void ExpireWaiters()
    {
        var expired = new List<Outgoing>();
        lock (_gate)
        {
            if (_link is not null || _failure is not null)
            {
                return;
            }
            for (var node = _backlog.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.WaitingSince is { } since && _time.GetElapsedTime(since) >= _options.Timeout)
                {
                    _backlog.Remove(node);
                    node.Value.Node = null;
                    expired.Add(node.Value);
                }
                node = next;
            }
            foreach (var (id, o) in _pending.ToList())
            {
                if (o.WaitingSince is { } since && _time.GetElapsedTime(since) >= _options.Timeout)
                {
                    _pending.Remove(id);
                    expired.Add(o);
                }
            }
            ArmTimeoutLocked();
        }
        foreach (var o in expired)
        {
            LogTimedOut(_logger, o.Command.GetType().Name, (long)_options.Timeout.TotalMilliseconds);
            o.Fail(new FailoverTimeoutException(
                $"Failover timeout of {(long)_options.Timeout.TotalMilliseconds} ms reached: no connection to any of {UriList()} for {o.Command.GetType().Name} (command {o.Command.CommandId})"
                + (o.Written ? "; it had been sent before the link was lost, so the broker may have acted on it" : "")));
        }
    }

    private void Raise(EventHandler<TransportEventArgs>? handler, TransportEventArgs args)
    {
        if (handler is null)
        {
            return;
        }
        try
        {
            handler(this, args);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogHandlerFailed(_logger, ex);
        }
    }

    private static void RunAll(List<Action>? actions)
    {
        if (actions is null)
        {
            return;
        }
        foreach (var action in actions)
        {
            action();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        FailForGood(new TransportClosedException($"The failover transport to {UriList()} was closed"), raiseFailed: false);
        try
        {
            await _supervisor.WaitAsync(TimeSpan.FromSeconds(10), _time);
        }
        catch (TimeoutException)
        {
            LogSupervisorStuck(_logger);
        }
        List<Link> links;
        lock (_gate)
        {
            links = [.. _backups];
            if (_link is { } link)
            {
                links.Add(link);
            }
            if (_candidate is { } candidate)
            {
                links.Add(candidate);
            }
            _link = null;
            _candidate = null;
            _backups.Clear();
        }
        while (_retired.TryDequeue(out var retired))
        {
            links.Add(retired);
        }
        foreach (var link in links)
        {
            await link.DisposeAsync();
        }
        _stop.Dispose();
    }

    /// <summary>A command on its way: waiting for a link (in the backlog) or, for a request, for its response.</summary>
    private sealed class Outgoing(Command command)
    {
        public Command Command { get; } = command;
        /// <summary>Completes with the response (requests) or null once the command went out (one-way).</summary>
        public TaskCompletionSource<Response?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Set while the command waits for a link (since when, as a TimeProvider timestamp).</summary>
        public long? WaitingSince { get; set; }
        /// <summary>Its place in the backlog while it waits there.</summary>
        public LinkedListNode<Outgoing>? Node { get; set; }
        /// <summary>A request that went out on some link and waits for its response.</summary>
        public bool Written { get; set; }
        /// <summary>Sent by RequestAsync: waits for its response (SendAsync only waits until it is written).</summary>
        public bool IsRequest { get; init; }
        /// <summary>The transport's own request (the replayed ConnectionInfo): never replayed itself.</summary>
        public bool Internal { get; init; }

        public void Complete(Response? response) => Done.TrySetResult(response);
        public void Fail(Exception error) => Done.TrySetException(error);
    }
}
