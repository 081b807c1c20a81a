// The real ActiveMQ 5.17 Java (OpenWire) client on one side of a STOMP <-> OpenWire exchange.
//   StompInterop <brokerUrl> produce <queue>          sends a TextMessage and a BytesMessage with headers and properties
//   StompInterop <brokerUrl> consume <queue> <count>  receives and prints what it got, one line per fact
// Prints "DONE" at the end; exits 1 on a timeout (every receive waits at most 20 s).
import javax.jms.*;
import java.util.Enumeration;
import org.apache.activemq.ActiveMQConnectionFactory;

public class StompInterop {
    public static void main(String[] args) throws Exception {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(args[0]);
        Connection connection = factory.createConnection();
        connection.start();
        try {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue queue = session.createQueue(args[2]);
            if (args[1].equals("produce")) {
                MessageProducer producer = session.createProducer(queue);
                producer.setDeliveryMode(DeliveryMode.PERSISTENT);
                TextMessage text = session.createTextMessage("from-openwire");
                text.setStringProperty("sp", "v");
                text.setIntProperty("ip", 3);
                text.setBooleanProperty("bp", true);
                text.setJMSCorrelationID("c1");
                text.setJMSType("tt");
                text.setJMSReplyTo(session.createTopic("REPLY.T"));
                producer.send(text, DeliveryMode.PERSISTENT, 6, 0);
                System.out.println("SENT-TEXT " + text.getJMSMessageID());
                BytesMessage bytes = session.createBytesMessage();
                bytes.writeBytes(new byte[] { 0x41, 0x00, 0x42 });
                bytes.setLongProperty("lp", 1234567890123L);
                producer.send(bytes, DeliveryMode.NON_PERSISTENT, 4, 0);
                System.out.println("SENT-BYTES " + bytes.getJMSMessageID());
            } else {
                MessageConsumer consumer = session.createConsumer(queue);
                int count = Integer.parseInt(args[3]);
                for (int i = 0; i < count; i++) {
                    Message m = consumer.receive(20000);
                    if (m == null) {
                        System.out.println("TIMEOUT after " + i + " message(s)");
                        System.exit(1);
                    }
                    print(m);
                }
            }
            System.out.println("DONE");
        } finally {
            connection.close();
        }
    }

    private static void print(Message m) throws JMSException {
        if (m instanceof TextMessage) {
            System.out.println("TYPE text");
            System.out.println("BODY " + ((TextMessage) m).getText());
        } else if (m instanceof BytesMessage) {
            BytesMessage b = (BytesMessage) m;
            byte[] data = new byte[(int) b.getBodyLength()];
            b.readBytes(data);
            StringBuilder hex = new StringBuilder();
            for (byte x : data) hex.append(String.format("%02x", x));
            System.out.println("TYPE bytes");
            System.out.println("BODY " + hex);
        } else {
            System.out.println("TYPE " + m.getClass().getSimpleName());
        }
        System.out.println("ID " + m.getJMSMessageID());
        System.out.println("CORRELATION " + m.getJMSCorrelationID());
        System.out.println("JMSTYPE " + m.getJMSType());
        System.out.println("PRIORITY " + m.getJMSPriority());
        System.out.println("PERSISTENT " + (m.getJMSDeliveryMode() == DeliveryMode.PERSISTENT));
        System.out.println("REPLYTO " + m.getJMSReplyTo());
        for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements();) {
            String name = (String) e.nextElement();
            System.out.println("PROP " + name + "=" + m.getObjectProperty(name));
        }
        System.out.println("END");
    }
}
