// Queue throughput of the ActiveMQ 5.17 Java client (Debian's libactivemq-java) for bench/compare-clients:
// one producer and one consumer, each on its own connection, in one process; 1 KiB TextMessages;
// AUTO_ACKNOWLEDGE with the default prefetch (1000). Persistent messages are sent the client's default
// way (sync: each send waits for the broker's receipt); non-persistent ones are async (one-way).
// The mirror of bench/Ferry.Benchmarks/ClientComparison.cs: keep the two in step.
//
// Usage: java -cp classes:$CP JmsBench <brokerUrl> <persistent|nonpersistent> <messages> <warmup> [brokerPid]
// First <warmup> messages go through untimed (JIT, connections, queue creation), then <messages> timed ones:
// the clock runs from the first send to the consumer's receipt of the last message. Prints
//   RESULT client=java mode=... messages=N seconds=S rate=R client_cpu_s=C broker_cpu_s=B
// (CPU seconds over the timed part; broker_cpu_s from /proc/<brokerPid>/stat, -1 without a pid).
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.Queue;
import javax.jms.Session;
import org.apache.activemq.ActiveMQConnectionFactory;

public class JmsBench {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: JmsBench <brokerUrl> <persistent|nonpersistent> <messages> <warmup> [brokerPid]");
            System.exit(2);
        }
        String url = args[0];
        boolean persistent = switch (args[1]) {
            case "persistent" -> true;
            case "nonpersistent" -> false;
            default -> throw new IllegalArgumentException("mode must be persistent or nonpersistent: " + args[1]);
        };
        int messages = Integer.parseInt(args[2]);
        int warmup = Integer.parseInt(args[3]);
        long brokerPid = args.length > 4 ? Long.parseLong(args[4]) : -1;
        String body = "x".repeat(1024);
        String queueName = "bench.compare.java." + args[1] + "." + ProcessHandle.current().pid();

        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        Connection consumerConnection = factory.createConnection();
        Connection producerConnection = factory.createConnection();
        try {
            consumerConnection.start();
            producerConnection.start();
            Session consumerSession = consumerConnection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Session producerSession = producerConnection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue queue = producerSession.createQueue(queueName);
            MessageConsumer consumer = consumerSession.createConsumer(consumerSession.createQueue(queueName));
            MessageProducer producer = producerSession.createProducer(queue);
            producer.setDeliveryMode(persistent ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT);

            if (warmup > 0) {
                run(producerSession, producer, consumer, body, warmup);
            }
            long cpu0 = processCpuNanos();
            long broker0 = brokerCpuTicks(brokerPid);
            long elapsed = run(producerSession, producer, consumer, body, messages);
            long cpu1 = processCpuNanos();
            long broker1 = brokerCpuTicks(brokerPid);
            double seconds = elapsed / 1e9;
            double brokerCpu = brokerPid > 0 ? (broker1 - broker0) / 100.0 : -1;
            System.out.println(String.format(Locale.ROOT,
                "RESULT client=java mode=%s messages=%d seconds=%.4f rate=%.1f client_cpu_s=%.3f broker_cpu_s=%.2f",
                args[1], messages, seconds, messages / seconds, (cpu1 - cpu0) / 1e9, brokerCpu));
        } finally {
            producerConnection.close();
            consumerConnection.close();
        }
    }

    /** Sends and receives <count> messages; returns the nanoseconds from the first send to the last receipt. */
    private static long run(Session session, MessageProducer producer, MessageConsumer consumer, String body, int count) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long[] end = new long[1];
        Thread receiver = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    Message m = consumer.receive(60_000);
                    if (m == null) {
                        throw new IllegalStateException("no message within 60 s after " + i + " of " + count);
                    }
                }
                end[0] = System.nanoTime();
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "consumer");
        receiver.start();
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            producer.send(session.createTextMessage(body));
        }
        receiver.join();
        if (failure.get() != null) {
            throw new RuntimeException("consumer failed", failure.get());
        }
        return end[0] - start;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** utime + stime of <pid> in clock ticks (USER_HZ, 100 on Linux), or 0 without a pid. */
    private static long brokerCpuTicks(long pid) throws Exception {
        if (pid <= 0) {
            return 0;
        }
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }
}
