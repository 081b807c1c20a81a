// FerryDurability: durability and JMS-semantics driver using the real ActiveMQ 5.17 JMS client.
// Same classpath as FerryInterop. Usage: java -cp <cp> FerryDurability <brokerUrl> <scenario> [args...]
// Last line on success: "OK <scenario>" (exit 0); on failure "FAIL <scenario>: <reason>" (exit 1).
// Scenarios that run for a bounded time carry their own limits; a watchdog ends anything after 120 s.

import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import javax.jms.*;
import javax.jms.Queue;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.RedeliveryPolicy;

public class FerryDurability {
    static final long RECEIVE_TIMEOUT = 10_000;
    static String url;
    static String scenario;

    static final class CheckFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;
        CheckFailed(String msg) { super(msg); }
    }

    static void check(boolean condition, String what) {
        if (!condition) throw new CheckFailed(what);
    }

    static void log(String line) {
        System.out.println("  " + line);
        System.out.flush();
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            System.out.println("FAIL ?: usage FerryDurability <brokerUrl> <scenario> [args]");
            System.exit(1);
        }
        url = args[0];
        scenario = args[1];
        String[] rest = Arrays.copyOfRange(args, 2, args.length);
        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(120_000); } catch (InterruptedException e) { return; }
            System.out.println("FAIL " + scenario + ": watchdog timeout (120 s)");
            System.out.flush();
            Runtime.getRuntime().halt(2);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            switch (scenario) {
                case "durable-create": durableCreate(rest[0], rest[1], rest[2]); break;
                case "durable-publish": durablePublish(rest[0], Integer.parseInt(rest[1])); break;
                case "durable-receive": durableReceive(rest[0], rest[1], rest[2], Integer.parseInt(rest[3])); break;
                case "tx": transactions(); break;
                case "dlq": deadLetter(); break;
                case "expiry": expiry(); break;
                case "selectors": selectors(); break;
                case "exclusive": exclusive(); break;
                case "groups": groups(); break;
                case "flowcontrol": flowControl(Integer.parseInt(rest[0]), Integer.parseInt(rest[1])); break;
                case "produce": produce(rest[0], Integer.parseInt(rest[1]), rest.length > 2 ? Integer.parseInt(rest[2]) : 0); break;
                case "drain": drain(rest[0]); break;
                default: throw new CheckFailed("unknown scenario '" + scenario + "'");
            }
            System.out.println("OK " + scenario);
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            if (!(t instanceof CheckFailed)) t.printStackTrace(System.out);
            System.out.println("FAIL " + scenario + ": " + t);
            System.out.flush();
            System.exit(1);
        }
    }

    static Connection connect(String clientId) throws JMSException {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        factory.setCloseTimeout(5000);
        Connection connection = factory.createConnection();
        if (clientId != null) connection.setClientID(clientId);
        connection.start();
        return connection;
    }

    static String unique(String what) {
        return "ferry.durability." + what + "." + System.nanoTime();
    }

    // ---- durable subscriptions across a broker restart ----

    static void durableCreate(String clientId, String sub, String topicName) throws Exception {
        Connection c = connect(clientId);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        TopicSubscriber subscriber = s.createDurableSubscriber(s.createTopic(topicName), sub);
        check(subscriber.receive(500) == null, "new durable subscription already had messages");
        subscriber.close();
        c.close();
        log("durable subscription " + clientId + "/" + sub + " on " + topicName + " created, consumer closed");
    }

    static void durablePublish(String topicName, int count) throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = s.createProducer(s.createTopic(topicName));
        p.setDeliveryMode(DeliveryMode.PERSISTENT);
        for (int i = 0; i < count; i++) {
            TextMessage m = s.createTextMessage("durable-" + i);
            m.setIntProperty("seq", i);
            p.send(m);
        }
        c.close();
        log("published " + count + " persistent messages to " + topicName);
    }

    static void durableReceive(String clientId, String sub, String topicName, int count) throws Exception {
        Connection c = connect(clientId);
        Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        TopicSubscriber subscriber = s.createDurableSubscriber(s.createTopic(topicName), sub);
        Message last = null;
        for (int i = 0; i < count; i++) {
            Message m = subscriber.receive(RECEIVE_TIMEOUT);
            check(m != null, "durable subscriber got " + i + " of " + count + " messages");
            check(("durable-" + i).equals(((TextMessage) m).getText()), "message " + i + " out of order: " + ((TextMessage) m).getText());
            check(m.getIntProperty("seq") == i, "seq property of message " + i);
            check(m.getJMSDeliveryMode() == DeliveryMode.PERSISTENT, "delivery mode of message " + i);
            last = m;
        }
        if (last != null) last.acknowledge();
        check(subscriber.receive(500) == null, "more messages than published");
        subscriber.close();
        s.unsubscribe(sub);
        c.close();
        log("durable subscriber received all " + count + " in order, then unsubscribed");
    }

    // ---- local transactions ----

    static void transactions() throws Exception {
        String name = unique("tx");
        Connection c = connect(null);
        Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
        Queue q = tx.createQueue(name);
        MessageProducer p = tx.createProducer(q);
        for (int i = 0; i < 3; i++) p.send(tx.createTextMessage("rolled-back-" + i));
        tx.rollback();
        Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer probe = plain.createConsumer(q);
        check(probe.receive(1000) == null, "a rolled-back send was delivered");
        probe.close();

        for (int i = 0; i < 3; i++) p.send(tx.createTextMessage("committed-" + i));
        Session other = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer early = other.createConsumer(q);
        check(early.receive(1000) == null, "an uncommitted send was visible");
        early.close();
        tx.commit();

        MessageConsumer consumer = tx.createConsumer(q);
        List<String> firstTime = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            TextMessage m = (TextMessage) consumer.receive(RECEIVE_TIMEOUT);
            check(m != null, "committed message " + i + " not received");
            check(!m.getJMSRedelivered(), "first delivery flagged redelivered");
            firstTime.add(m.getText());
        }
        check(firstTime.equals(Arrays.asList("committed-0", "committed-1", "committed-2")), "committed order " + firstTime);
        tx.rollback();
        for (int i = 0; i < 3; i++) {
            TextMessage m = (TextMessage) consumer.receive(RECEIVE_TIMEOUT);
            check(m != null, "rolled-back receive " + i + " not redelivered");
            check(m.getJMSRedelivered(), "redelivery after rollback not flagged");
            check(m.getText().equals(firstTime.get(i)), "redelivered order");
        }
        tx.commit();
        consumer.close();
        MessageConsumer after = plain.createConsumer(q);
        check(after.receive(1000) == null, "a committed receive was delivered again");
        c.close();
        log("send rollback/commit and receive rollback/commit behaved");
    }

    // ---- redelivery limit, then the dead-letter queue ----

    static void deadLetter() throws Exception {
        String name = unique("dlq");
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        RedeliveryPolicy policy = new RedeliveryPolicy();
        policy.setMaximumRedeliveries(2);
        policy.setInitialRedeliveryDelay(0);
        policy.setRedeliveryDelay(0);
        factory.setRedeliveryPolicy(policy);
        Connection c = factory.createConnection();
        c.start();
        Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
        Queue q = tx.createQueue(name);
        MessageProducer p = tx.createProducer(q);
        TextMessage sent = tx.createTextMessage("poison");
        p.send(sent);
        tx.commit();
        MessageConsumer consumer = tx.createConsumer(q);
        int deliveries = 0;
        while (true) {
            Message m = consumer.receive(2000);
            if (m == null) break;
            deliveries++;
            check(deliveries <= 3, "delivered more than 1 + maximumRedeliveries times");
            tx.rollback();
        }
        check(deliveries == 3, "expected 3 deliveries before dead-lettering, got " + deliveries);
        consumer.close();
        Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer dlq = plain.createConsumer(plain.createQueue("ActiveMQ.DLQ"));
        Message dead = null;
        for (int i = 0; i < 50 && dead == null; i++) {
            Message m = dlq.receive(RECEIVE_TIMEOUT);
            check(m != null, "nothing on ActiveMQ.DLQ");
            if (m.getJMSMessageID().equals(sent.getJMSMessageID())) dead = m;
        }
        check(dead != null, "the poison message is not on ActiveMQ.DLQ");
        check("poison".equals(((TextMessage) dead).getText()), "DLQ body");
        check(dead.getStringProperty("dlqDeliveryFailureCause") != null, "dlqDeliveryFailureCause missing");
        check(plain.createConsumer(q).receive(1000) == null, "poison message still on its queue");
        c.close();
        log("poison message dead-lettered after " + deliveries + " deliveries: " + dead.getStringProperty("dlqDeliveryFailureCause"));
    }

    // ---- expiry ----

    static void expiry() throws Exception {
        String name = unique("expiry");
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        p.setDeliveryMode(DeliveryMode.PERSISTENT);
        TextMessage shortLived = s.createTextMessage("short-lived");
        // The TTL runs from the client's timestamp: a send the broker handles only after it (a stalled JVM or
        // broker on a loaded machine) arrives expired, and a message expired on arrival is dropped, not
        // dead-lettered. A second leaves room for such a stall; the message still expires long before the receive.
        p.send(shortLived, DeliveryMode.PERSISTENT, 4, 1000);
        p.send(s.createTextMessage("long-lived"), DeliveryMode.PERSISTENT, 4, 0);
        Thread.sleep(2000);
        MessageConsumer consumer = s.createConsumer(q);
        TextMessage first = (TextMessage) consumer.receive(RECEIVE_TIMEOUT);
        check(first != null && "long-lived".equals(first.getText()), "expected only the long-lived message, got " + (first == null ? "nothing" : first.getText()));
        check(consumer.receive(1000) == null, "an expired message was delivered");
        MessageConsumer dlq = s.createConsumer(s.createQueue("ActiveMQ.DLQ"));
        Message dead = null;
        for (int i = 0; i < 50 && dead == null; i++) {
            Message m = dlq.receive(RECEIVE_TIMEOUT);
            check(m != null, "expired message not on ActiveMQ.DLQ");
            if (m.getJMSMessageID().equals(shortLived.getJMSMessageID())) dead = m;
        }
        c.close();
        log("expired message skipped and moved to ActiveMQ.DLQ");
    }

    // ---- selectors ----

    static void selectors() throws Exception {
        String name = unique("selectors");
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        String[] colors = {"red", "blue", "green"};
        for (int i = 0; i < 30; i++) {
            TextMessage m = s.createTextMessage("m" + i);
            m.setStringProperty("color", colors[i % 3]);
            m.setIntProperty("weight", i);
            m.setJMSType(i % 2 == 0 ? "even" : "odd");
            p.send(m);
        }
        MessageConsumer heavyRed = s.createConsumer(q, "color = 'red' AND weight > 10");
        List<String> got = new ArrayList<>();
        for (Message m; (m = heavyRed.receive(1000)) != null; ) got.add(((TextMessage) m).getText());
        check(got.equals(Arrays.asList("m12", "m15", "m18", "m21", "m24", "m27")), "red and heavy: " + got);
        heavyRed.close();
        MessageConsumer blueOrEvenGreen = s.createConsumer(q, "color IN ('blue') OR (color LIKE 'gr%' AND JMSType = 'even' AND weight BETWEEN 0 AND 20)");
        got.clear();
        for (Message m; (m = blueOrEvenGreen.receive(1000)) != null; ) got.add(((TextMessage) m).getText());
        check(got.equals(Arrays.asList("m1", "m2", "m4", "m7", "m8", "m10", "m13", "m14", "m16", "m19", "m20", "m22", "m25", "m28")), "blue or even green: " + got);
        blueOrEvenGreen.close();
        MessageConsumer rest = s.createConsumer(q);
        int left = 0;
        while (rest.receive(1000) != null) left++;
        check(left == 30 - 6 - 14, "unselected messages left on the queue: " + left);
        // A topic subscriber with a selector.
        Topic t = s.createTopic(unique("selectors-topic"));
        MessageConsumer onlyBig = s.createConsumer(t, "weight >= 5");
        MessageProducer tp = s.createProducer(t);
        for (int i = 0; i < 10; i++) {
            Message m = s.createMessage();
            m.setIntProperty("weight", i);
            tp.send(m);
        }
        for (int i = 5; i < 10; i++) {
            Message m = onlyBig.receive(RECEIVE_TIMEOUT);
            check(m != null && m.getIntProperty("weight") == i, "topic selector delivery " + i);
        }
        check(onlyBig.receive(500) == null, "topic selector let a light message through");
        try {
            s.createConsumer(q, "color = = 'red'");
            throw new CheckFailed("a bad selector was accepted");
        } catch (InvalidSelectorException expected) {
            log("bad selector refused: " + expected.getMessage());
        }
        c.close();
        log("queue and topic selectors filtered as expected");
    }

    // ---- exclusive consumers ----

    static void exclusive() throws Exception {
        String name = unique("exclusive");
        Connection c = connect(null);
        Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        Queue q = s.createQueue(name + "?consumer.exclusive=true&consumer.prefetchSize=1");
        MessageConsumer first = s.createConsumer(q);
        Session s2 = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer second = s2.createConsumer(q);
        Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createQueue(name));
        for (int i = 0; i < 10; i++) p.send(ps.createTextMessage("x" + i));
        for (int i = 0; i < 5; i++) {
            Message m = first.receive(RECEIVE_TIMEOUT);
            check(m != null && ("x" + i).equals(((TextMessage) m).getText()), "exclusive consumer message " + i);
            m.acknowledge();
        }
        check(second.receive(500) == null, "the non-exclusive second consumer received while the first was there");
        first.close();
        for (int i = 5; i < 10; i++) {
            Message m = second.receive(RECEIVE_TIMEOUT);
            check(m != null && ("x" + i).equals(((TextMessage) m).getText()), "takeover consumer message " + i);
            m.acknowledge();
        }
        c.close();
        log("exclusive consumer got everything until it closed, then the other took over");
    }

    // ---- message groups ----

    static void groups() throws Exception {
        String name = unique("groups");
        Connection c = connect(null);
        Map<String, Set<Integer>> groupsByConsumer = new ConcurrentHashMap<>();
        Map<String, List<Integer>> orderByGroup = new ConcurrentHashMap<>();
        AtomicInteger received = new AtomicInteger();
        List<MessageConsumer> consumers = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer consumer = s.createConsumer(s.createQueue(name + "?consumer.prefetchSize=2"));
            final int id = k;
            consumer.setMessageListener(m -> {
                try {
                    String g = m.getStringProperty("JMSXGroupID");
                    groupsByConsumer.computeIfAbsent(g, x -> ConcurrentHashMap.newKeySet()).add(id);
                    orderByGroup.computeIfAbsent(g, x -> Collections.synchronizedList(new ArrayList<>())).add(m.getIntProperty("n"));
                    received.incrementAndGet();
                } catch (JMSException e) { throw new RuntimeException(e); }
            });
            consumers.add(consumer);
        }
        Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createQueue(name));
        String[] groups = {"A", "B", "C", "D"};
        for (int i = 0; i < 40; i++) {
            Message m = ps.createMessage();
            m.setStringProperty("JMSXGroupID", groups[i % groups.length]);
            m.setIntProperty("n", i);
            p.send(m);
        }
        long deadline = System.currentTimeMillis() + RECEIVE_TIMEOUT;
        while (received.get() < 40 && System.currentTimeMillis() < deadline) Thread.sleep(20);
        check(received.get() == 40, "received " + received.get() + " of 40 grouped messages");
        for (String g : groups) {
            check(groupsByConsumer.get(g).size() == 1, "group " + g + " went to consumers " + groupsByConsumer.get(g));
            List<Integer> order = orderByGroup.get(g);
            List<Integer> sorted = new ArrayList<>(order);
            Collections.sort(sorted);
            check(order.equals(sorted), "group " + g + " out of order: " + order);
        }
        c.close();
        log("each group stuck to one consumer, in order: " + groupsByConsumer);
    }

    // ---- producer flow control ----

    static void flowControl(int count, int size) throws Exception {
        String name = unique("flow");
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        p.setDeliveryMode(DeliveryMode.PERSISTENT);
        byte[] body = new byte[size];
        long longestSend = 0;
        AtomicInteger consumed = new AtomicInteger();
        Thread drainer = new Thread(() -> {
            try {
                Thread.sleep(3000);
                Connection dc = connect(null);
                Session ds = dc.createSession(false, Session.AUTO_ACKNOWLEDGE);
                MessageConsumer consumer = ds.createConsumer(ds.createQueue(name));
                while (consumed.get() < count) {
                    if (consumer.receive(RECEIVE_TIMEOUT) == null) break;
                    consumed.incrementAndGet();
                }
                dc.close();
            } catch (Exception e) { e.printStackTrace(System.out); }
        });
        drainer.start();
        for (int i = 0; i < count; i++) {
            BytesMessage m = s.createBytesMessage();
            m.writeBytes(body);
            long t0 = System.nanoTime();
            p.send(m);
            longestSend = Math.max(longestSend, (System.nanoTime() - t0) / 1_000_000);
        }
        drainer.join(60_000);
        check(consumed.get() == count, "drained " + consumed.get() + " of " + count);
        check(longestSend >= 1000, "no send was held back by flow control (longest " + longestSend + " ms)");
        c.close();
        log("producer was blocked for up to " + longestSend + " ms and resumed when the consumer drained; all " + count + " delivered");
    }

    // ---- crash test helpers ----

    /** Sync persistent sends; prints "SENT i" once each send has returned. Use a failover: URL. */
    /** Sends count persistent messages, printing "SENT i" as each send returns; pauseMs between sends paces a run. */
    static void produce(String queue, int count, int pauseMs) throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = s.createProducer(s.createQueue(queue));
        p.setDeliveryMode(DeliveryMode.PERSISTENT);
        for (int i = 0; i < count; i++) {
            p.send(s.createTextMessage("crash-" + i));
            System.out.println("SENT " + i);
            System.out.flush();
            if (pauseMs > 0) Thread.sleep(pauseMs);
        }
        c.close();
    }

    /** Receives until the queue stays empty for 3 s; prints "RECV text" for each message. */
    static void drain(String queue) throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = s.createConsumer(s.createQueue(queue));
        for (Message m; (m = consumer.receive(3000)) != null; ) {
            System.out.println("RECV " + ((TextMessage) m).getText());
        }
        System.out.flush();
        c.close();
    }
}
