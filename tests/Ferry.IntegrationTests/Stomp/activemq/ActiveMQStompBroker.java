// Embedded Apache ActiveMQ 5.17 (Debian libactivemq-java) with a STOMP connector: the reference
// the STOMP scenarios are checked against. Prints "READY stomp://127.0.0.1:<port>" once started;
// stops when killed or after <maxSeconds> (default 300).
// Run: java -cp "$CP" ActiveMQStompBroker.java [maxSeconds]   (see run-against-activemq.sh)
import org.apache.activemq.broker.BrokerService;
import org.apache.activemq.broker.TransportConnector;

public class ActiveMQStompBroker {
    public static void main(String[] args) throws Exception {
        long maxSeconds = args.length > 0 ? Long.parseLong(args[0]) : 300;
        BrokerService broker = new BrokerService();
        broker.setBrokerName("activemq-stomp-reference");
        broker.setPersistent(false);
        broker.setUseJmx(false);
        broker.setSchedulerSupport(false);
        broker.setDataDirectory(System.getProperty("java.io.tmpdir") + "/activemq-stomp-reference-" + ProcessHandle.current().pid());
        TransportConnector stomp = broker.addConnector("stomp://127.0.0.1:0");
        broker.start();
        broker.waitUntilStarted();
        int port = ((java.net.InetSocketAddress) stomp.getServer().getSocketAddress()).getPort();
        System.out.println("READY stomp://127.0.0.1:" + port);
        System.out.flush();
        Thread.sleep(maxSeconds * 1000);
        broker.stop();
        System.exit(0);
    }
}
