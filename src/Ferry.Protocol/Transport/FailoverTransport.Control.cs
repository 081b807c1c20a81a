using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.Transport;

// The URI lists and what a broker's ConnectionControl does to them.
public sealed partial class FailoverTransport
{
    private readonly List<Endpoint> _uris;
    private readonly HashSet<string> _priorityKeys;
    private List<Endpoint> _updated = [];
    private string? _lastFailedKey;
    private Endpoint? _reconnectTo;
    private bool _rebalance;

    /// <summary>The URIs the transport knows now: those from connectedBrokers first, then the configured ones.</summary>
    public IReadOnlyList<string> KnownUris
    {
        get
        {
            lock (_gate)
            {
                return Known().Select(e => e.Address).ToList();
            }
        }
    }

    private List<Endpoint> Known()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return _updated.Concat(_uris).Where(e => seen.Add(e.Key)).ToList();
    }

    private bool IsPriority(Endpoint endpoint) => _priorityKeys.Contains(endpoint.Key);

    /// <summary>
    /// The order of one connection round: the known URIs, shuffled with <c>randomize</c>; with
    /// <c>priorityBackup</c> the priority URIs first; the URI that failed last goes last.
    /// </summary>
    private List<Endpoint> ConnectList()
    {
        lock (_gate)
        {
            var list = Known();
            if (_options.Randomize)
            {
                for (int i = list.Count - 1; i > 0; i--)
                {
                    int j = _random.Next(i + 1);
                    (list[i], list[j]) = (list[j], list[i]);
                }
            }
            if (_options.PriorityBackup)
            {
                list = [.. list.Where(IsPriority), .. list.Where(e => !IsPriority(e))];
            }
            if (_lastFailedKey is { } failed && list.Count > 1 && list.FindIndex(e => e.Key == failed) is var index and >= 0)
            {
                var last = list[index];
                list.RemoveAt(index);
                list.Add(last);
            }
            return list;
        }
    }

    private string UriList()
    {
        lock (_gate)
        {
            return "[" + string.Join(", ", Known().Select(e => e.Address)) + "]";
        }
    }

    /// <summary>
    /// A ConnectionControl from the broker: <c>connectedBrokers</c> replaces the list of updated URIs
    /// (<c>updateURIsSupported</c>), and with <c>rebalanceConnection</c> the client may move to
    /// another broker; a non-empty <c>reconnectTo</c> moves it there (<c>reconnectSupported</c>).
    /// The move itself happens on the supervisor, connecting before leaving the current broker.
    /// </summary>
    private void HandleConnectionControl(ConnectionControl control)
    {
        bool wake = false;
        lock (_gate)
        {
            if (_options.ReconnectSupported && control.ReconnectTo?.Trim() is { Length: > 0 } target)
            {
                if (TryEndpoint(target) is { } endpoint)
                {
                    if (!_uris.Exists(e => e.Key == endpoint.Key))
                    {
                        _uris.Add(endpoint);
                    }
                    _reconnectTo = endpoint;
                    wake = true;
                }
            }
            if (_options.UpdateUrisSupported && control.ConnectedBrokers?.Trim() is { Length: > 0 } brokers)
            {
                var updated = brokers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(TryEndpoint).OfType<Endpoint>().ToList();
                if (updated.Count > 0 && !updated.Select(e => e.Key).SequenceEqual(_updated.Select(e => e.Key)))
                {
                    _updated = updated;
                    LogUrisUpdated(_logger, string.Join(", ", updated.Select(e => e.Address)));
                    if (control.RebalanceConnection && _options.ReconnectSupported)
                    {
                        _rebalance = true;
                        wake = true;
                    }
                }
            }
        }
        if (wake)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>For tests: handles <paramref name="command"/> as if the current broker had sent it.</summary>
    internal ValueTask InjectFromBrokerAsync(Command command)
    {
        var link = Volatile.Read(ref _link) ?? throw new InvalidOperationException("not connected");
        return OnLinkCommandAsync(link, command);
    }

    /// <summary>For tests: drops the current link from the client side, as a network failure would.</summary>
    internal async Task DropLinkAsync()
    {
        var link = Volatile.Read(ref _link) ?? throw new InvalidOperationException("not connected");
        await link.DisposeAsync();
    }

    private Endpoint? TryEndpoint(string uri)
    {
        try
        {
            return new Endpoint(uri, _options.Endpoint(uri));
        }
        catch (FormatException ex)
        {
            LogBadBrokerUri(_logger, uri, ex.Message);
            return null;
        }
    }

    /// <summary>reconnectTo or a rebalance: move if the target is not the current broker. True if something was done.</summary>
    private async Task<bool> FollowControlAsync(Link current, CancellationToken stop)
    {
        Endpoint? target = null;
        string reason = "";
        lock (_gate)
        {
            if (_reconnectTo is { } to)
            {
                _reconnectTo = null;
                _rebalance = false;
                target = to;
                reason = $"broker asked to reconnect to {to.Address}";
            }
            else if (_rebalance)
            {
                _rebalance = false;
                // Connected to a priority broker (priorityBackup): stay; otherwise go to the head of a fresh round.
                if (!(_options.PriorityBackup && IsPriority(current.Endpoint)))
                {
                    reason = "broker asked to rebalance";
                }
            }
            else
            {
                return false;
            }
        }
        if (target is null && reason.Length > 0)
        {
            target = ConnectList().FirstOrDefault();
        }
        if (target is null || target.Key == current.Endpoint.Key)
        {
            return true;
        }
        var link = await TryOpenAsync(target, stop);
        if (link is null)
        {
            LogMoveFailed(_logger, target.Address, _lastOpenError?.Message ?? "?");
            return true;
        }
        LogMoving(_logger, current.Endpoint.Address, target.Address, reason);
        await SwitchToAsync(current, link, reason);
        return true;
    }
}
