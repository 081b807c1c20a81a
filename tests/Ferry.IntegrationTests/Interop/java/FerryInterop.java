// FerryInterop: OpenWire interop driver using the real ActiveMQ 5.17 JMS client (Debian libactivemq-java).
//
// Classpath (compile and run); geronimo-j2ee-management is required at runtime by the client's stats classes:
//   CP=/usr/share/java/activemq-client.jar:/usr/share/java/geronimo-jms_1.1_spec.jar:/usr/share/java/geronimo-j2ee-management-1.1-spec.jar:/usr/share/java/hawtbuf.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar
//   javac -cp "$CP" -d out FerryInterop.java
//   java -cp "out:$CP" FerryInterop tcp://127.0.0.1:61616 <scenario>
//
// Scenarios: connect types topic3 topicmixed competing clientack tempreply browser
// Last line on success: "OK <scenario>" (exit 0); on failure: "FAIL <scenario>: <reason>" (exit 1).
// A watchdog prints FAIL and exits 2 if the run takes longer than 40 s.

import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import javax.jms.*;
import javax.jms.Queue;
import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;

public class FerryInterop {
    static final long RECEIVE_TIMEOUT = 10_000;
    static final long TTL = 60_000;
    static final String TEXT_UNICODE = "h\u00e9llo \u2713 \uD83D\uDE00";
    static final String TEXT_NUL = "before\u0000after";
    // The ActiveMQ 5.17 client itself cannot round-trip NUL or non-BMP characters in String *properties*
    // and MapMessage strings (it writes modified UTF-8 / CESU-8 but decodes them as strict UTF-8 -> U+FFFD),
    // verified without any broker. So those fields use BMP-only non-ASCII text; bodies use the full set.
    static final String TEXT_BMP = "h\u00e9llo \u2713 \u00df\u4e2d";

    static String brokerUrl;
    static String scenario;
    static final String RUN = Long.toString(System.nanoTime());
    static final List<Connection> OPEN = Collections.synchronizedList(new ArrayList<>());

    static final class CheckFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;
        CheckFailed(String msg) { super(msg); }
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.out.println("usage: java -cp <cp> FerryInterop <brokerUrl> <scenario>");
            System.out.println("FAIL " + (args.length > 1 ? args[1] : "?") + ": bad arguments");
            System.exit(1);
        }
        brokerUrl = args[0];
        scenario = args[1];

        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(40_000); } catch (InterruptedException e) { return; }
            System.out.println("FAIL " + scenario + ": watchdog timeout (40 s)");
            System.out.flush();
            Runtime.getRuntime().halt(2);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        log("broker=" + brokerUrl + " scenario=" + scenario + " run=" + RUN);
        try {
            switch (scenario) {
                case "connect": connect(); break;
                case "types": types(); break;
                case "topic3": topic3(); break;
                case "topicmixed": topicMixed(); break;
                case "competing": competing(); break;
                case "clientack": clientAck(); break;
                case "tempreply": tempReply(); break;
                case "browser": browser(); break;
                case "cachefull": cacheFull(); break;
                default: throw new CheckFailed("unknown scenario '" + scenario + "'");
            }
            synchronized (OPEN) {
                check(OPEN.isEmpty(), "scenario left " + OPEN.size() + " connection(s) open");
            }
        } catch (Throwable t) {
            if (!(t instanceof CheckFailed)) t.printStackTrace(System.out);
            closeAllQuietly();
            String reason = (t instanceof CheckFailed) ? t.getMessage() : t.toString();
            System.out.println("FAIL " + scenario + ": " + reason.replace('\n', ' '));
            System.out.flush();
            System.exit(1);
        }
        System.out.println("OK " + scenario);
        System.out.flush();
        System.exit(0);
    }

    // ------------------------------------------------------------------ helpers

    static void log(String s) { System.out.println("  " + s); }

    static void check(boolean cond, String reason) {
        if (!cond) throw new CheckFailed(reason);
    }

    static void eq(String what, Object expected, Object actual) {
        boolean same;
        if (expected instanceof byte[] && actual instanceof byte[]) same = Arrays.equals((byte[]) expected, (byte[]) actual);
        else same = Objects.equals(expected, actual);
        if (!same) throw new CheckFailed(what + ": expected " + show(expected) + " but got " + show(actual));
    }

    static String show(Object o) {
        if (o == null) return "null";
        if (o instanceof byte[]) return "byte[" + ((byte[]) o).length + "]" + Arrays.toString((byte[]) o);
        if (o instanceof String) return "\"" + escape((String) o) + "\" (String)";
        return o + " (" + o.getClass().getSimpleName() + ")";
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
        }
        return b.toString();
    }

    static String name(String base) { return "ferry.interop." + base + "." + RUN; }

    static ActiveMQConnectionFactory factory() {
        ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(brokerUrl);
        f.setCloseTimeout(5000);
        f.setSendTimeout(10_000);
        return f;
    }

    static Connection open(ActiveMQConnectionFactory f, String clientIdSuffix) throws JMSException {
        Connection c = f.createConnection();
        OPEN.add(c);
        c.setClientID("ferry-interop-" + clientIdSuffix + "-" + RUN);
        c.start();
        return c;
    }

    static Connection open(String clientIdSuffix) throws JMSException { return open(factory(), clientIdSuffix); }

    static void close(Connection c) throws JMSException {
        c.close();
        OPEN.remove(c);
    }

    static void closeAllQuietly() {
        List<Connection> copy;
        synchronized (OPEN) { copy = new ArrayList<>(OPEN); OPEN.clear(); }
        for (Connection c : copy) {
            try { c.close(); } catch (Throwable ignored) { }
        }
    }

    static Message receive(MessageConsumer c, String what) throws JMSException {
        Message m = c.receive(RECEIVE_TIMEOUT);
        check(m != null, what + ": no message within " + RECEIVE_TIMEOUT + " ms");
        return m;
    }

    static void expectEmpty(MessageConsumer c, String what) throws JMSException {
        Message m = c.receive(1000);
        check(m == null, what + ": expected no message but got " + (m == null ? "" : m.getJMSMessageID()));
    }

    static String destName(Destination d) throws JMSException {
        if (d == null) return null;
        if (d instanceof Queue) return "queue://" + ((Queue) d).getQueueName();
        if (d instanceof Topic) return "topic://" + ((Topic) d).getTopicName();
        return d.toString();
    }

    // ------------------------------------------------------------------ 1. connect

    static void connect() throws Exception {
        ActiveMQConnectionFactory f = factory();
        Connection c = f.createConnection();
        OPEN.add(c);
        String clientId = "ferry-interop-connect-" + RUN;
        c.setClientID(clientId);
        eq("getClientID", clientId, c.getClientID());
        ConnectionMetaData md = c.getMetaData();
        check(md != null, "getMetaData returned null");
        log("metadata: JMS " + md.getJMSVersion() + " provider=" + md.getJMSProviderName() + " " + md.getProviderVersion());
        eq("JMS major version", 1, md.getJMSMajorVersion());
        check(md.getJMSProviderName() != null && !md.getJMSProviderName().isEmpty(), "empty provider name");
        check(md.getProviderVersion() != null && !md.getProviderVersion().isEmpty(), "empty provider version");
        Set<String> xprops = new HashSet<>();
        for (Enumeration<?> e = md.getJMSXPropertyNames(); e.hasMoreElements(); ) xprops.add((String) e.nextElement());
        log("JMSX properties: " + xprops);
        c.start();
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        check(s != null, "createSession returned null");
        eq("session acknowledge mode", Session.AUTO_ACKNOWLEDGE, s.getAcknowledgeMode());
        eq("session transacted", false, s.getTransacted());
        if (c instanceof ActiveMQConnection) {
            ActiveMQConnection ac = (ActiveMQConnection) c;
            eq("connection started", true, ac.isStarted());
            log("broker name reported by broker: " + ac.getBrokerName()
                    + ", protocol version " + ac.getProtocolVersion());
            check(ac.getBrokerInfo() != null, "no BrokerInfo received from broker");
        }
        s.close();
        close(c);
        if (c instanceof ActiveMQConnection) eq("connection closed", true, ((ActiveMQConnection) c).isClosed());
        log("connect/start/session/close ok");
    }

    // ------------------------------------------------------------------ 2. types

    static final byte[] SAMPLE_BYTES = new byte[256];
    static { for (int i = 0; i < 256; i++) SAMPLE_BYTES[i] = (byte) i; }

    static void setAllProperties(Message m, int idx) throws JMSException {
        m.setBooleanProperty("pBool", true);
        m.setByteProperty("pByte", (byte) -7);
        m.setShortProperty("pShort", (short) -12345);
        m.setIntProperty("pInt", 0x7fff0000 + idx);
        m.setLongProperty("pLong", 0x1234_5678_9abc_def0L);
        m.setFloatProperty("pFloat", 3.25f);
        m.setDoubleProperty("pDouble", -2.5e300);
        m.setStringProperty("pString", "prop " + TEXT_BMP + " #" + idx);
    }

    static void checkAllProperties(Message m, int idx, String what) throws JMSException {
        Object[][] expected = {
                {"pBool", Boolean.TRUE},
                {"pByte", (byte) -7},
                {"pShort", (short) -12345},
                {"pInt", 0x7fff0000 + idx},
                {"pLong", 0x1234_5678_9abc_def0L},
                {"pFloat", 3.25f},
                {"pDouble", -2.5e300},
                {"pString", "prop " + TEXT_BMP + " #" + idx},
        };
        Set<String> names = new HashSet<>();
        for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements(); ) names.add((String) e.nextElement());
        for (Object[] kv : expected) {
            String n = (String) kv[0];
            check(names.contains(n), what + ": property " + n + " missing from getPropertyNames " + names);
            check(m.propertyExists(n), what + ": propertyExists(" + n + ") is false");
            Object v = m.getObjectProperty(n);
            eq(what + " property " + n, kv[1], v); // Objects.equals also checks the boxed type
        }
        eq(what + " getBooleanProperty", true, m.getBooleanProperty("pBool"));
        eq(what + " getByteProperty", (byte) -7, m.getByteProperty("pByte"));
        eq(what + " getShortProperty", (short) -12345, m.getShortProperty("pShort"));
        eq(what + " getIntProperty", 0x7fff0000 + idx, m.getIntProperty("pInt"));
        eq(what + " getLongProperty", 0x1234_5678_9abc_def0L, m.getLongProperty("pLong"));
        eq(what + " getFloatProperty", 3.25f, m.getFloatProperty("pFloat"));
        eq(what + " getDoubleProperty", -2.5e300, m.getDoubleProperty("pDouble"));
        eq(what + " getStringProperty", "prop " + TEXT_BMP + " #" + idx, m.getStringProperty("pString"));
    }

    static final class Sent {
        final String kind; final int idx; final int mode; final Message msg;
        String id; long timestamp; long expiration;
        Sent(String kind, int idx, int mode, Message msg) { this.kind = kind; this.idx = idx; this.mode = mode; this.msg = msg; }
    }

    static void types() throws Exception {
        Connection c = open("types");
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name("types"));
        Queue replyTo = s.createQueue(name("types.replyto"));
        MessageProducer p = s.createProducer(q);
        MessageConsumer cons = s.createConsumer(q);

        List<Sent> sent = new ArrayList<>();
        int P = DeliveryMode.PERSISTENT, NP = DeliveryMode.NON_PERSISTENT;

        TextMessage t1 = s.createTextMessage("plain ascii text");
        sent.add(new Sent("text-ascii", sent.size(), P, t1));
        TextMessage t2 = s.createTextMessage(TEXT_UNICODE);
        sent.add(new Sent("text-unicode", sent.size(), NP, t2));
        TextMessage t3 = s.createTextMessage(TEXT_NUL);
        sent.add(new Sent("text-nul", sent.size(), P, t3));

        BytesMessage b = s.createBytesMessage();
        b.writeBoolean(true);
        b.writeByte((byte) -128);
        b.writeShort((short) -32768);
        b.writeChar('\u20ac');
        b.writeInt(-123456789);
        b.writeLong(Long.MIN_VALUE + 1);
        b.writeFloat(-1.5f);
        b.writeDouble(Math.PI);
        b.writeUTF(TEXT_UNICODE);
        b.writeUTF(TEXT_NUL);
        b.writeBytes(SAMPLE_BYTES);
        b.writeBytes(SAMPLE_BYTES, 10, 5);
        sent.add(new Sent("bytes", sent.size(), NP, b));

        MapMessage mm = s.createMapMessage();
        mm.setBoolean("bool", true);
        mm.setByte("byte", (byte) 0x7f);
        mm.setShort("short", (short) 0x7fff);
        mm.setChar("char", '\u00e9');
        mm.setInt("int", Integer.MIN_VALUE);
        mm.setLong("long", Long.MAX_VALUE);
        mm.setFloat("float", Float.MAX_VALUE);
        mm.setDouble("double", Double.MIN_VALUE);
        mm.setString("string", TEXT_BMP);
        mm.setBytes("bytes", SAMPLE_BYTES);
        sent.add(new Sent("map", sent.size(), P, mm));

        StreamMessage sm = s.createStreamMessage();
        sm.writeBoolean(false);
        sm.writeByte((byte) 1);
        sm.writeShort((short) -2);
        sm.writeChar('Z');
        sm.writeInt(42);
        sm.writeLong(-42L);
        sm.writeFloat(0.1f);
        sm.writeDouble(-0.0);
        sm.writeString(TEXT_UNICODE);
        sm.writeBytes(SAMPLE_BYTES);
        sm.writeString(TEXT_NUL);
        sent.add(new Sent("stream", sent.size(), NP, sm));

        Message plain = s.createMessage();
        sent.add(new Sent("plain", sent.size(), P, plain));

        for (Sent x : sent) {
            setAllProperties(x.msg, x.idx);
            x.msg.setJMSCorrelationID("corr-" + x.kind + "-" + RUN);
            x.msg.setJMSReplyTo(replyTo);
            x.msg.setJMSType("type-" + x.kind);
            p.send(x.msg, x.mode, 7, TTL);
            x.id = x.msg.getJMSMessageID();
            x.timestamp = x.msg.getJMSTimestamp();
            x.expiration = x.msg.getJMSExpiration();
            check(x.id != null, x.kind + ": no JMSMessageID after send");
            log("sent " + x.kind + " id=" + x.id + " mode=" + x.mode + " ts=" + x.timestamp + " exp=" + x.expiration);
        }

        Map<String, Message> got = new LinkedHashMap<>();
        for (int i = 0; i < sent.size(); i++) {
            Message m = receive(cons, "types message #" + i);
            check(!got.containsKey(m.getJMSMessageID()), "duplicate delivery of " + m.getJMSMessageID());
            got.put(m.getJMSMessageID(), m);
        }
        expectEmpty(cons, "types queue after all messages");

        int pos = 0;
        for (String id : got.keySet()) {
            if (!id.equals(sent.get(pos).id)) log("note: receive order differs from send order at #" + pos);
            pos++;
        }

        for (Sent x : sent) {
            String w = x.kind;
            Message m = got.get(x.id);
            check(m != null, w + ": message with JMSMessageID " + x.id + " not received (got " + got.keySet() + ")");
            eq(w + " JMSMessageID", x.id, m.getJMSMessageID());
            eq(w + " JMSCorrelationID", "corr-" + x.kind + "-" + RUN, m.getJMSCorrelationID());
            eq(w + " JMSType", "type-" + x.kind, m.getJMSType());
            eq(w + " JMSReplyTo", destName(replyTo), destName(m.getJMSReplyTo()));
            check(m.getJMSReplyTo() instanceof Queue, w + ": JMSReplyTo is not a Queue: " + m.getJMSReplyTo());
            eq(w + " JMSDestination", destName(q), destName(m.getJMSDestination()));
            eq(w + " JMSPriority", 7, m.getJMSPriority());
            eq(w + " JMSDeliveryMode", x.mode, m.getJMSDeliveryMode());
            eq(w + " JMSRedelivered", false, m.getJMSRedelivered());
            eq(w + " JMSTimestamp", x.timestamp, m.getJMSTimestamp());
            check(m.getJMSTimestamp() > 0, w + ": JMSTimestamp is " + m.getJMSTimestamp());
            check(m.getJMSExpiration() != 0, w + ": JMSExpiration is 0 although TTL " + TTL + " was given");
            long skew = m.getJMSExpiration() - (m.getJMSTimestamp() + TTL);
            check(Math.abs(skew) <= 2000, w + ": JMSExpiration " + m.getJMSExpiration() + " is not timestamp+" + TTL
                    + " (" + m.getJMSTimestamp() + "+" + TTL + ", off by " + skew + " ms)");
            checkAllProperties(m, x.idx, w);
            checkBody(x, m);
            log("received " + w + " ok");
        }
        close(c);
    }

    static void checkBody(Sent x, Message m) throws JMSException {
        String w = x.kind;
        switch (x.kind) {
            case "text-ascii":
            case "text-unicode":
            case "text-nul": {
                check(m instanceof TextMessage, w + ": expected TextMessage, got " + m.getClass().getName());
                eq(w + " text", ((TextMessage) x.msg).getText(), ((TextMessage) m).getText());
                break;
            }
            case "bytes": {
                check(m instanceof BytesMessage, w + ": expected BytesMessage, got " + m.getClass().getName());
                BytesMessage r = (BytesMessage) m;
                long expectedLen = 1 + 1 + 2 + 2 + 4 + 8 + 4 + 8
                        + (2 + utfLen(TEXT_UNICODE)) + (2 + utfLen(TEXT_NUL)) + 256 + 5;
                eq(w + " body length", expectedLen, r.getBodyLength());
                eq(w + " readBoolean", true, r.readBoolean());
                eq(w + " readByte", (byte) -128, r.readByte());
                eq(w + " readShort", (short) -32768, r.readShort());
                eq(w + " readChar", '\u20ac', r.readChar());
                eq(w + " readInt", -123456789, r.readInt());
                eq(w + " readLong", Long.MIN_VALUE + 1, r.readLong());
                eq(w + " readFloat", -1.5f, r.readFloat());
                eq(w + " readDouble", Math.PI, r.readDouble());
                eq(w + " readUTF", TEXT_UNICODE, r.readUTF());
                eq(w + " readUTF (NUL)", TEXT_NUL, r.readUTF());
                byte[] buf = new byte[256];
                eq(w + " readBytes(256) count", 256, r.readBytes(buf));
                eq(w + " readBytes(256) content", SAMPLE_BYTES, buf);
                byte[] tail = new byte[10];
                eq(w + " readBytes(tail) count", 5, r.readBytes(tail));
                eq(w + " tail content", Arrays.copyOfRange(SAMPLE_BYTES, 10, 15), Arrays.copyOf(tail, 5));
                eq(w + " readBytes at end", -1, r.readBytes(tail));
                break;
            }
            case "map": {
                check(m instanceof MapMessage, w + ": expected MapMessage, got " + m.getClass().getName());
                MapMessage r = (MapMessage) m;
                Set<String> names = new TreeSet<>();
                for (Enumeration<?> e = r.getMapNames(); e.hasMoreElements(); ) names.add((String) e.nextElement());
                eq(w + " map names", new TreeSet<>(Arrays.asList("bool", "byte", "short", "char", "int", "long",
                        "float", "double", "string", "bytes")), names);
                eq(w + " bool", Boolean.TRUE, r.getObject("bool"));
                eq(w + " byte", (byte) 0x7f, r.getObject("byte"));
                eq(w + " short", (short) 0x7fff, r.getObject("short"));
                eq(w + " char", '\u00e9', r.getObject("char"));
                eq(w + " int", Integer.MIN_VALUE, r.getObject("int"));
                eq(w + " long", Long.MAX_VALUE, r.getObject("long"));
                eq(w + " float", Float.MAX_VALUE, r.getObject("float"));
                eq(w + " double", Double.MIN_VALUE, r.getObject("double"));
                eq(w + " string", TEXT_BMP, r.getObject("string"));
                eq(w + " bytes", SAMPLE_BYTES, r.getObject("bytes"));
                eq(w + " getBoolean", true, r.getBoolean("bool"));
                eq(w + " getChar", '\u00e9', r.getChar("char"));
                eq(w + " getBytes", SAMPLE_BYTES, r.getBytes("bytes"));
                break;
            }
            case "stream": {
                check(m instanceof StreamMessage, w + ": expected StreamMessage, got " + m.getClass().getName());
                StreamMessage r = (StreamMessage) m;
                eq(w + " #0 boolean", Boolean.FALSE, r.readObject());
                eq(w + " #1 byte", (byte) 1, r.readObject());
                eq(w + " #2 short", (short) -2, r.readObject());
                eq(w + " #3 char", 'Z', r.readObject());
                eq(w + " #4 int", 42, r.readObject());
                eq(w + " #5 long", -42L, r.readObject());
                eq(w + " #6 float", 0.1f, r.readObject());
                eq(w + " #7 double", -0.0, r.readObject());
                eq(w + " #8 string", TEXT_UNICODE, r.readObject());
                eq(w + " #9 bytes", SAMPLE_BYTES, r.readObject());
                eq(w + " #10 string", TEXT_NUL, r.readObject());
                boolean eof = false;
                try { r.readObject(); } catch (MessageEOFException e) { eof = true; }
                check(eof, w + ": expected MessageEOFException after the 11th element");
                break;
            }
            case "plain": {
                check(!(m instanceof TextMessage || m instanceof BytesMessage || m instanceof MapMessage
                        || m instanceof StreamMessage || m instanceof ObjectMessage),
                        w + ": expected a plain Message, got " + m.getClass().getName());
                break;
            }
            default:
                throw new CheckFailed("internal: unknown kind " + x.kind);
        }
    }

    static int utfLen(String s) {
        int n = 0;
        for (char c : s.toCharArray()) n += (c >= 1 && c <= 0x7f) ? 1 : (c <= 0x7ff ? 2 : 3); // modified UTF-8
        return n;
    }

    // ------------------------------------------------------------------ 3. topic3

    static void topic3() throws Exception {
        final int N = 50;
        String topicName = name("topic3");
        List<Connection> conns = new ArrayList<>();
        List<MessageConsumer> consumers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Connection c = open("topic3-sub" + i);
            conns.add(c);
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            consumers.add(s.createConsumer(s.createTopic(topicName)));
        }
        Connection pc = open("topic3-pub");
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createTopic(topicName));
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            TextMessage m = ps.createTextMessage("topic message " + i);
            m.setIntProperty("seq", i);
            p.send(m);
            ids.add(m.getJMSMessageID());
        }
        log("published " + N + " messages to topic " + topicName);
        for (int c = 0; c < 3; c++) {
            MessageConsumer cons = consumers.get(c);
            for (int i = 0; i < N; i++) {
                String w = "subscriber " + c + " message " + i;
                Message m = receive(cons, w);
                check(m instanceof TextMessage, w + ": not a TextMessage");
                eq(w + " seq", i, m.getIntProperty("seq"));
                eq(w + " text", "topic message " + i, ((TextMessage) m).getText());
                eq(w + " JMSMessageID", ids.get(i), m.getJMSMessageID());
                eq(w + " JMSDestination", "topic://" + topicName, destName(m.getJMSDestination()));
            }
            expectEmpty(cons, "subscriber " + c + " after " + N + " messages");
            log("subscriber " + c + " received all " + N + " in order");
        }
        close(pc);
        for (Connection c : conns) close(c);
    }

    // ------------------------------------------------------------------ 3b. topicmixed
    // One topic, subscribers on every wire format the client offers (tight and loose, OpenWire 12 and 9);
    // the last is durable, goes away without acknowledging and comes back, so the broker redelivers to it
    // alone. Every subscriber gets every header field and body intact (bodies up to 6 KiB, past the size
    // the broker writes straight from the message's array), and only the durable one sees a redelivery.
    // The broker encodes a topic message's header once per wire format and version and shares it between
    // the dispatches; this is what would show a mix-up.

    static void topicMixed() throws Exception {
        final int N = 20;
        String topicName = name("topicmixed");
        String base = brokerUrl.split("\\?")[0];
        String[] formats = {
            "?wireFormat.tightEncodingEnabled=true",
            "?wireFormat.tightEncodingEnabled=false",
            "?wireFormat.tightEncodingEnabled=true&wireFormat.version=9",
            "?wireFormat.tightEncodingEnabled=false&wireFormat.version=9",
        };
        final int durable = formats.length - 1;
        List<Connection> conns = new ArrayList<>();
        List<MessageConsumer> consumers = new ArrayList<>();
        for (int i = 0; i < formats.length; i++) {
            Connection c = open(new ActiveMQConnectionFactory(base + formats[i]), "topicmixed-sub" + i);
            conns.add(c);
            Session s = c.createSession(false, i == durable ? Session.CLIENT_ACKNOWLEDGE : Session.AUTO_ACKNOWLEDGE);
            consumers.add(i == durable
                ? s.createDurableSubscriber(s.createTopic(topicName), "mixed")
                : s.createConsumer(s.createTopic(topicName)));
        }
        Connection pc = open("topicmixed-pub");
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Topic topic = ps.createTopic(topicName);
        Queue replyTo = ps.createQueue(name("topicmixed.reply"));
        MessageProducer p = ps.createProducer(topic);
        List<Message> sent = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            Message m;
            if (i % 2 == 0) {
                m = ps.createTextMessage("mixed " + i + " " + TEXT_UNICODE);
            } else {
                BytesMessage b = ps.createBytesMessage();
                b.writeBytes(mixedBody(i));
                m = b;
            }
            m.setJMSCorrelationID("corr-" + i);
            m.setJMSType("type-" + (i % 3));
            m.setJMSReplyTo(replyTo);
            m.setIntProperty("seq", i);
            m.setStringProperty("label", TEXT_BMP + " " + i);
            p.send(m, i % 3 == 0 ? DeliveryMode.NON_PERSISTENT : DeliveryMode.PERSISTENT, i % 10, i % 4 == 0 ? 0 : TTL);
            sent.add(m);
        }
        log("published " + N + " messages to topic " + topicName);
        for (int c = 0; c < consumers.size(); c++) {
            checkMixed(consumers.get(c), sent, "subscriber " + c + " (" + formats[c] + ")", false);
            if (c != durable) {
                expectEmpty(consumers.get(c), "subscriber " + c + " after " + N + " messages");
            }
            log("subscriber " + c + " (" + formats[c] + ") received all " + N + " intact");
        }
        // The durable subscriber leaves without acknowledging, and comes back on the same format.
        close(conns.get(durable));
        Connection again = open(new ActiveMQConnectionFactory(base + formats[durable]), "topicmixed-sub" + durable);
        Session s = again.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer back = s.createDurableSubscriber(s.createTopic(topicName), "mixed");
        Message last = checkMixed(back, sent, "durable subscriber back", true);
        last.acknowledge();
        expectEmpty(back, "durable subscriber after the redelivery");
        log("durable subscriber received all " + N + " again, redelivered");
        back.close();
        s.unsubscribe("mixed");
        close(again);
        close(pc);
        for (int c = 0; c < durable; c++) close(conns.get(c));
    }

    static byte[] mixedBody(int i) {
        byte[] body = new byte[i % 4 == 1 ? 5000 + i * 37 : 100 + i * 37];
        for (int k = 0; k < body.length; k++) body[k] = (byte) (k * 7 + i);
        return body;
    }

    static Message checkMixed(MessageConsumer consumer, List<Message> sent, String who, boolean redelivered) throws Exception {
        Message m = null;
        for (int i = 0; i < sent.size(); i++) {
            String w = who + " message " + i;
            m = receive(consumer, w);
            Message x = sent.get(i);
            eq(w + " JMSMessageID", x.getJMSMessageID(), m.getJMSMessageID());
            eq(w + " seq", i, m.getIntProperty("seq"));
            eq(w + " label", TEXT_BMP + " " + i, m.getStringProperty("label"));
            eq(w + " JMSCorrelationID", "corr-" + i, m.getJMSCorrelationID());
            eq(w + " JMSType", "type-" + (i % 3), m.getJMSType());
            eq(w + " JMSReplyTo", destName(x.getJMSReplyTo()), destName(m.getJMSReplyTo()));
            eq(w + " JMSDestination", destName(x.getJMSDestination()), destName(m.getJMSDestination()));
            eq(w + " JMSDeliveryMode", x.getJMSDeliveryMode(), m.getJMSDeliveryMode());
            eq(w + " JMSPriority", i % 10, m.getJMSPriority());
            eq(w + " JMSExpiration", x.getJMSExpiration(), m.getJMSExpiration());
            eq(w + " JMSTimestamp", x.getJMSTimestamp(), m.getJMSTimestamp());
            eq(w + " JMSRedelivered", redelivered, m.getJMSRedelivered());
            eq(w + " JMSXDeliveryCount", redelivered ? 2 : 1, m.getIntProperty("JMSXDeliveryCount"));
            if (i % 2 == 0) {
                check(m instanceof TextMessage, w + ": not a TextMessage");
                eq(w + " text", "mixed " + i + " " + TEXT_UNICODE, ((TextMessage) m).getText());
            } else {
                check(m instanceof BytesMessage, w + ": not a BytesMessage");
                BytesMessage b = (BytesMessage) m;
                byte[] body = new byte[(int) b.getBodyLength()];
                b.readBytes(body);
                check(Arrays.equals(mixedBody(i), body), w + ": body differs (" + body.length + " bytes)");
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ 4. competing

    /**
     * More distinct destinations and consumers on one connection than the marshal cache holds (1024 entries,
     * both sides' default): the client's table evicts its oldest entries (it keeps 100 slots free before each
     * command), which the broker's reader must follow, and the broker's table replaces its oldest entries, which
     * the client's reader must follow. Two rounds, the second in reverse, so values come back after their slots
     * were reused.
     */
    static void cacheFull() throws Exception {
        final int n = 1200;
        Connection c = open("cachefull");
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = s.createProducer(null);
        p.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
        List<MessageConsumer> consumers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            consumers.add(s.createConsumer(s.createQueue(name("cache." + i))));
        }
        for (String round : new String[] {"first", "second"}) {
            for (int i = 0; i < n; i++) {
                TextMessage m = s.createTextMessage(round + " " + i);
                m.setIntProperty("i", i);
                p.send(s.createQueue(name("cache." + i)), m);
            }
            for (int k = 0; k < n; k++) {
                int i = round.equals("first") ? k : n - 1 - k;
                Message m = receive(consumers.get(i), round + " message on queue " + i);
                eq(round + " body " + i, round + " " + i, ((TextMessage) m).getText());
                eq(round + " property " + i, i, m.getIntProperty("i"));
                eq(round + " destination " + i, name("cache." + i), ((Queue) m.getJMSDestination()).getQueueName());
            }
        }
        close(c);
        log("cachefull: " + n + " queues and consumers on one connection, two rounds");
    }

    static void competing() throws Exception {
        final int N = 100;
        String queueName = name("competing");
        ActiveMQConnectionFactory f = factory();
        f.getPrefetchPolicy().setQueuePrefetch(1);
        final Map<Integer, Integer> owner = new ConcurrentHashMap<>();
        final AtomicInteger total = new AtomicInteger();
        final AtomicInteger[] counts = {new AtomicInteger(), new AtomicInteger()};
        final List<String> errors = Collections.synchronizedList(new ArrayList<>());
        List<Connection> conns = new ArrayList<>();
        List<MessageConsumer> consumers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Connection c = open(f, "competing-c" + i);
            conns.add(c);
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            consumers.add(s.createConsumer(s.createQueue(queueName)));
        }
        final long deadline = System.currentTimeMillis() + 20_000;
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            final int ci = i;
            final MessageConsumer cons = consumers.get(i);
            Thread t = new Thread(() -> {
                try {
                    while (total.get() < N && System.currentTimeMillis() < deadline) {
                        Message m = cons.receive(500);
                        if (m == null) continue;
                        int seq = m.getIntProperty("seq");
                        Integer prev = owner.putIfAbsent(seq, ci);
                        if (prev != null) errors.add("seq " + seq + " delivered twice (consumers " + prev + " and " + ci + ")");
                        if (!("work " + seq).equals(((TextMessage) m).getText())) errors.add("seq " + seq + " has wrong body");
                        counts[ci].incrementAndGet();
                        total.incrementAndGet();
                        Thread.sleep(2);
                    }
                } catch (Throwable e) {
                    errors.add("consumer " + ci + ": " + e);
                }
            }, "competing-" + i);
            t.start();
            threads.add(t);
        }
        Connection pc = open("competing-pub");
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createQueue(queueName));
        for (int i = 0; i < N; i++) {
            TextMessage m = ps.createTextMessage("work " + i);
            m.setIntProperty("seq", i);
            p.send(m);
        }
        log("sent " + N + " messages to queue " + queueName);
        for (Thread t : threads) t.join(25_000);
        log("consumer 0 got " + counts[0].get() + ", consumer 1 got " + counts[1].get() + ", total " + total.get());
        check(errors.isEmpty(), "errors: " + errors);
        eq("total received", N, total.get());
        for (int i = 0; i < N; i++) check(owner.containsKey(i), "message seq " + i + " never received");
        for (int i = 0; i < 2; i++)
            check(counts[i].get() >= 10, "consumer " + i + " got only " + counts[i].get() + " of " + N + " messages (expected >= 10)");
        for (int i = 0; i < 2; i++) expectEmpty(consumers.get(i), "consumer " + i + " after all " + N + " messages");
        close(pc);
        for (Connection c : conns) close(c);
    }

    // ------------------------------------------------------------------ 5. clientack

    static void clientAck() throws Exception {
        Connection c = open("clientack");
        String queueName = name("clientack");
        Session ps = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = ps.createProducer(ps.createQueue(queueName));
        TextMessage out = ps.createTextMessage("ack me later");
        out.setStringProperty("marker", RUN);
        p.send(out, DeliveryMode.PERSISTENT, 4, 0);
        String id = out.getJMSMessageID();
        log("sent " + id);

        Session s1 = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer c1 = s1.createConsumer(s1.createQueue(queueName));
        Message m1 = receive(c1, "first delivery");
        eq("first delivery JMSMessageID", id, m1.getJMSMessageID());
        eq("first delivery JMSRedelivered", false, m1.getJMSRedelivered());
        eq("first delivery text", "ack me later", ((TextMessage) m1).getText());
        log("first delivery ok, closing session without acknowledge");
        s1.close();

        Session s2 = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer c2 = s2.createConsumer(s2.createQueue(queueName));
        Message m2 = receive(c2, "redelivery");
        eq("redelivery JMSMessageID", id, m2.getJMSMessageID());
        eq("redelivery JMSRedelivered", true, m2.getJMSRedelivered());
        eq("redelivery text", "ack me later", ((TextMessage) m2).getText());
        eq("redelivery marker property", RUN, m2.getStringProperty("marker"));
        log("redelivered ok (JMSXDeliveryCount=" + m2.getObjectProperty("JMSXDeliveryCount") + "), acknowledging");
        m2.acknowledge();
        expectEmpty(c2, "same consumer after acknowledge");
        s2.close();

        Session s3 = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer c3 = s3.createConsumer(s3.createQueue(queueName));
        expectEmpty(c3, "fresh consumer after acknowledge");
        s3.close();
        close(c);
    }

    // ------------------------------------------------------------------ 6. tempreply

    static void tempReply() throws Exception {
        String requestQueue = name("tempreply.requests");
        final List<String> serverErrors = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger served = new AtomicInteger();
        final CountDownLatch handled = new CountDownLatch(1);

        Connection server = open("tempreply-server");
        final Session ss = server.createSession(false, Session.AUTO_ACKNOWLEDGE);
        final MessageProducer replier = ss.createProducer(null);
        MessageConsumer sc = ss.createConsumer(ss.createQueue(requestQueue));
        final AtomicReference<String> seenReplyTo = new AtomicReference<>();
        sc.setMessageListener(req -> {
            try {
                Destination rt = req.getJMSReplyTo();
                seenReplyTo.set(destName(rt) + (rt instanceof TemporaryQueue ? " (TemporaryQueue)" : " (" + (rt == null ? "null" : rt.getClass().getSimpleName()) + ")"));
                if (rt == null) { serverErrors.add("request without JMSReplyTo"); return; }
                TextMessage reply = ss.createTextMessage("reply:" + ((TextMessage) req).getText());
                reply.setJMSCorrelationID(req.getJMSCorrelationID());
                replier.send(rt, reply);
                served.incrementAndGet();
            } catch (Throwable e) {
                serverErrors.add(e.toString());
            } finally {
                handled.countDown();
            }
        });

        Connection client = open("tempreply-client");
        Session cs = client.createSession(false, Session.AUTO_ACKNOWLEDGE);
        TemporaryQueue tq = cs.createTemporaryQueue();
        log("temporary queue " + tq.getQueueName());
        MessageConsumer replies = cs.createConsumer(tq);
        MessageProducer rp = cs.createProducer(cs.createQueue(requestQueue));
        String corr = "corr-" + RUN;
        TextMessage req = cs.createTextMessage("ping " + RUN);
        req.setJMSReplyTo(tq);
        req.setJMSCorrelationID(corr);
        rp.send(req);
        Message reply = receive(replies, "reply on temporary queue");
        check(handled.await(5, TimeUnit.SECONDS), "server listener did not finish");
        check(serverErrors.isEmpty(), "server errors: " + serverErrors);
        log("server saw JMSReplyTo " + seenReplyTo.get());
        eq("server-side JMSReplyTo", destName(tq) + " (TemporaryQueue)", seenReplyTo.get());
        eq("reply JMSCorrelationID", corr, reply.getJMSCorrelationID());
        check(reply instanceof TextMessage, "reply is not a TextMessage");
        eq("reply text", "reply:ping " + RUN, ((TextMessage) reply).getText());
        eq("reply JMSDestination", destName(tq), destName(reply.getJMSDestination()));
        eq("requests served", 1, served.get());
        expectEmpty(replies, "temporary queue after the reply");
        replies.close();
        tq.delete();
        log("temporary queue deleted");
        close(client);
        close(server);
    }

    // ------------------------------------------------------------------ 7. browser

    static void browser() throws Exception {
        final int N = 5;
        Connection c = open("browser");
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name("browser"));
        MessageProducer p = s.createProducer(q);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            TextMessage m = s.createTextMessage("browse " + i);
            m.setIntProperty("seq", i);
            p.send(m, DeliveryMode.PERSISTENT, 4, 0);
            ids.add(m.getJMSMessageID());
        }
        log("sent " + N + " messages: " + ids);

        QueueBrowser br = s.createBrowser(q);
        eq("browser queue", q.getQueueName(), br.getQueue().getQueueName());
        List<String> browsed = new ArrayList<>();
        Enumeration<?> e = br.getEnumeration();
        while (e.hasMoreElements()) {
            Message m = (Message) e.nextElement();
            int i = browsed.size();
            check(i < N, "browser returned more than " + N + " messages (extra id " + m.getJMSMessageID() + ")");
            eq("browsed #" + i + " seq", i, m.getIntProperty("seq"));
            eq("browsed #" + i + " text", "browse " + i, ((TextMessage) m).getText());
            browsed.add(m.getJMSMessageID());
        }
        br.close();
        eq("browsed ids", ids, browsed);
        log("browser enumerated " + browsed.size() + " messages in order");

        MessageConsumer cons = s.createConsumer(q);
        for (int i = 0; i < N; i++) {
            Message m = receive(cons, "consume #" + i + " after browse");
            eq("consumed #" + i + " JMSMessageID", ids.get(i), m.getJMSMessageID());
            eq("consumed #" + i + " text", "browse " + i, ((TextMessage) m).getText());
            eq("consumed #" + i + " JMSRedelivered", false, m.getJMSRedelivered());
        }
        expectEmpty(cons, "queue after consuming the browsed messages");
        log("consumer received all " + N + " after browsing");
        close(c);
    }
}
