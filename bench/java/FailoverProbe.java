// Producer for bench/compare-failover: the ActiveMQ 5.17 Java client on a failover: URL, sending
// persistent text messages with sync sends (each send waits for the broker's receipt) in a loop, and
// printing the wall-clock time at which each send completed, so that the script can find the longest
// gap between two completed sends (the producer's stall while the master dies and a slave takes over).
// Output, one line per event, times in microseconds since the epoch:
//   START <us>                   connection started, first send follows
//   S <us>                       one send completed (its receipt arrived)
//   INTERRUPTED <us> / RESUMED <us>   the failover transport lost / regained its broker
//   ERR <us> <exception>         a send threw (the loop goes on)
//   END <us> sent=<n> errors=<n> the loop ended (stop file appeared, or maxSeconds / maxCount reached)
// Sends are paced to at most one per <intervalMicros> (default 1000: ≤ 1000 msg/s), so the queue (never
// consumed) stays far below the brokers' memory limits over a run; a late send is not caught up with a burst.
// Usage: java -cp "$CLIENT_CP" FailoverProbe <failoverUrl> <stopFile> [maxSeconds] [maxCount] [intervalMicros]
// CLIENT_CP: see bench/compare-clients.
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.PrintStream;
import javax.jms.DeliveryMode;
import javax.jms.MessageProducer;
import javax.jms.Session;
import javax.jms.TextMessage;
import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.transport.TransportListener;

public class FailoverProbe {
    // microseconds since the epoch, from the monotonic clock anchored once to the wall clock
    private static final long BASE_US = System.currentTimeMillis() * 1000L;
    private static final long BASE_NS = System.nanoTime();
    static long nowUs() { return BASE_US + (System.nanoTime() - BASE_NS) / 1000L; }

    private static final PrintStream OUT =
        new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false);

    static synchronized void emit(String line) { OUT.println(line); }
    static synchronized void flush() { OUT.flush(); }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        File stopFile = new File(args[1]);
        long maxSeconds = args.length > 2 ? Long.parseLong(args[2]) : 120;
        long maxCount = args.length > 3 ? Long.parseLong(args[3]) : Long.MAX_VALUE;
        long intervalNs = (args.length > 4 ? Long.parseLong(args[4]) : 1000) * 1000L;
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        factory.setAlwaysSyncSend(true);   // persistent non-transacted sends are sync anyway; stated for the reader
        ActiveMQConnection connection = (ActiveMQConnection) factory.createConnection();
        connection.addTransportListener(new TransportListener() {
            public void onCommand(Object command) { }
            public void onException(IOException error) { emit("TRANSPORT-ERROR " + nowUs() + " " + error); flush(); }
            public void transportInterupted() { emit("INTERRUPTED " + nowUs()); flush(); }
            public void transportResumed() { emit("RESUMED " + nowUs()); flush(); }
        });
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = session.createProducer(session.createQueue("bench.failover"));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        String body = "x".repeat(256);
        long deadline = System.nanoTime() + maxSeconds * 1_000_000_000L;
        long sent = 0, errors = 0, lastFlush = System.nanoTime();
        emit("START " + nowUs());
        flush();
        long next = System.nanoTime();
        while (sent < maxCount && System.nanoTime() < deadline && !stopFile.exists()) {
            long now = System.nanoTime();
            if (now < next) { java.util.concurrent.locks.LockSupport.parkNanos(next - now); next += intervalNs; }
            else next = now + intervalNs;
            TextMessage message = session.createTextMessage(body);
            message.setLongProperty("seq", sent);
            try {
                producer.send(message);
                sent++;
                emit("S " + nowUs());
            } catch (Exception e) {
                errors++;
                emit("ERR " + nowUs() + " " + e.toString().replace('\n', ' '));
                flush();
                Thread.sleep(10);
            }
            if (System.nanoTime() - lastFlush > 100_000_000L) { flush(); lastFlush = System.nanoTime(); }
        }
        emit("END " + nowUs() + " sent=" + sent + " errors=" + errors);
        flush();
        // closing may wait for a broker that is gone: do not let it hold the process
        Thread closer = new Thread(() -> { try { connection.close(); } catch (Exception ignored) { } });
        closer.setDaemon(true);
        closer.start();
        closer.join(3000);
        flush();
        System.exit(0);
    }
}
