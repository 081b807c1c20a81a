using Microsoft.Extensions.Logging;

namespace Ferry.Protocol.Transport;

// Event ids 400–429. An outage is never silent: losing a link and getting it back are warnings.
public sealed partial class FailoverTransport
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Failover transport connected to {Address}")]
    private static partial void LogConnected(ILogger logger, string address);

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "Connection to {Address} lost ({Reason}); reconnecting. {Transactions} open transaction(s) rolled back, {Waiting} command(s) waiting")]
    private static partial void LogInterrupted(ILogger logger, string address, string reason, int transactions, int waiting);

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Reconnected to {Address} after {Outage}; state replayed, {Resent} unanswered request(s) resent")]
    private static partial void LogResumed(ILogger logger, string address, string outage, int resent);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Failed to connect to {Uris} after {Attempts} attempt(s) ({Reason}); continuing to retry")]
    private static partial void LogStillConnecting(ILogger logger, string uris, int attempts, string reason);

    [LoggerMessage(EventId = 404, Level = LogLevel.Error, Message = "Failover transport to {Uris} gave up: {Reason}")]
    private static partial void LogGaveUp(ILogger logger, string uris, string reason);

    [LoggerMessage(EventId = 405, Level = LogLevel.Debug, Message = "Connect to {Address} failed: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 406, Level = LogLevel.Warning, Message = "Replay on {Address} failed: {Reason}")]
    private static partial void LogReplayFailed(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "The broker refused replayed command {CommandId}: {Error}")]
    private static partial void LogReplayRefused(ILogger logger, int commandId, string error);

    [LoggerMessage(EventId = 408, Level = LogLevel.Warning, Message = "{Command} refused: transaction {Transaction} was rolled back by a failover")]
    private static partial void LogTransactionRolledBack(ILogger logger, string transaction, string command);

    [LoggerMessage(EventId = 409, Level = LogLevel.Warning, Message = "{Command} failed: no link within the failover timeout of {Timeout} ms")]
    private static partial void LogTimedOut(ILogger logger, string command, long timeout);

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Broker URIs updated from ConnectionControl: {Uris}")]
    private static partial void LogUrisUpdated(ILogger logger, string uris);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Ignoring broker URI '{Uri}' from ConnectionControl: {Reason}")]
    private static partial void LogBadBrokerUri(ILogger logger, string uri, string reason);

    [LoggerMessage(EventId = 412, Level = LogLevel.Warning, Message = "Moving from {From} to {To}: {Reason}")]
    private static partial void LogMoving(ILogger logger, string from, string to, string reason);

    [LoggerMessage(EventId = 413, Level = LogLevel.Warning, Message = "Could not move to {To} ({Reason}); staying")]
    private static partial void LogMoveFailed(ILogger logger, string to, string reason);

    [LoggerMessage(EventId = 414, Level = LogLevel.Warning, Message = "Priority broker {To} is back; moving from {From}")]
    private static partial void LogMovingToPriority(ILogger logger, string from, string to);

    [LoggerMessage(EventId = 415, Level = LogLevel.Information, Message = "Standby connection to {Address} ready")]
    private static partial void LogBackupReady(ILogger logger, string address);

    [LoggerMessage(EventId = 416, Level = LogLevel.Error, Message = "A failover transport event handler threw")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 417, Level = LogLevel.Critical, Message = "The failover supervisor failed; the transport is closed")]
    private static partial void LogSupervisorFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 418, Level = LogLevel.Warning, Message = "The failover supervisor did not stop within 10 s")]
    private static partial void LogSupervisorStuck(ILogger logger);
}
