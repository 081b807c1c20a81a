// Embedded Apache ActiveMQ 5.17 broker with a STOMP connector (Debian's activemq-stomp.jar), for the
// STOMP mode of `ferry bench`: non-persistent, no JMX, STOMP on stomp://127.0.0.1:<port> (0 = a free port).
// Prints "READY stomp://127.0.0.1:<port>" once started; stops when killed or after <maxSeconds>.
// Run with the single-file launcher:
//   java -cp /usr/share/java/activemq-broker.jar:/usr/share/java/activemq-stomp.jar:<client classpath> ActiveMQStompBroker.java [port] [maxSeconds]
import org.apache.activemq.broker.BrokerService;
import org.apache.activemq.broker.TransportConnector;

public class ActiveMQStompBroker {
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        long maxSeconds = args.length > 1 ? Long.parseLong(args[1]) : 300;
        BrokerService broker = new BrokerService();
        broker.setBrokerName("activemq-stomp-reference");
        broker.setPersistent(false);
        broker.setUseJmx(false);
        broker.setUseShutdownHook(true);
        broker.setSchedulerSupport(false);
        broker.setDataDirectory(System.getProperty("java.io.tmpdir") + "/activemq-stomp-reference-" + ProcessHandle.current().pid());
        TransportConnector tc = broker.addConnector("stomp://127.0.0.1:" + port);
        broker.start();
        broker.waitUntilStarted();
        int actualPort = ((java.net.InetSocketAddress) tc.getServer().getSocketAddress()).getPort();
        System.out.println("READY stomp://127.0.0.1:" + actualPort);
        System.out.flush();
        Thread.sleep(maxSeconds * 1000);
        broker.stop();
        System.exit(0);
    }
}
