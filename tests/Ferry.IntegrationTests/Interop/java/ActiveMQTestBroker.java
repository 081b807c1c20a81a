// Minimal embedded Apache ActiveMQ 5.17 broker (reference broker for FerryInterop).
// Non-persistent, no JMX, OpenWire on tcp://127.0.0.1:<port> (port 0 = pick a free one).
// Prints "READY tcp://127.0.0.1:<port>" once started; stops when killed (SIGTERM) or after <maxSeconds> (default 300).
// Run with the single-file launcher: java -cp "$BROKER_CP" ActiveMQTestBroker.java [port] [maxSeconds]
// BROKER_CP=/usr/share/java/activemq-broker.jar:<FerryInterop client classpath>
import org.apache.activemq.broker.BrokerService;
import org.apache.activemq.broker.TransportConnector;

public class ActiveMQTestBroker {
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        long maxSeconds = args.length > 1 ? Long.parseLong(args[1]) : 300;
        BrokerService broker = new BrokerService();
        broker.setBrokerName("activemq-reference");
        broker.setPersistent(false);
        broker.setUseJmx(false);
        broker.setUseShutdownHook(true);
        broker.setSchedulerSupport(false);
        broker.setDataDirectory(System.getProperty("java.io.tmpdir") + "/activemq-reference-" + ProcessHandle.current().pid());
        TransportConnector tc = broker.addConnector("tcp://127.0.0.1:" + port);
        broker.start();
        broker.waitUntilStarted();
        int actualPort = ((java.net.InetSocketAddress) tc.getServer().getSocketAddress()).getPort();
        System.out.println("READY tcp://127.0.0.1:" + actualPort);
        System.out.flush();
        Thread.sleep(maxSeconds * 1000);
        System.out.println("broker lifetime of " + maxSeconds + " s reached, stopping");
        broker.stop();
        System.exit(0);
    }
}
