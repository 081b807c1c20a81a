// Embedded Apache ActiveMQ 5.17 broker for bench/compare-clients: like the interop tests'
// ActiveMQTestBroker, but PERSISTENT, with the default KahaDB store (journal fsync on every write
// batch: journalDiskSyncStrategy=always, KahaDB's default), so persistent sends are as durable as Ferry's.
// No JMX, no scheduler, no advisory support; OpenWire on tcp://127.0.0.1:<port> (0 = a free port).
// Prints "READY tcp://127.0.0.1:<port>" once started; stops when killed (SIGTERM) or after <maxSeconds>.
// Usage: java -cp "$BROKER_CP" ActiveMQBenchBroker.java <dataDir> [port] [maxSeconds] [stompPort] [memoryLimitBytes] [jdbcUrl]
// BROKER_CP: see bench/compare-clients. With stompPort (>= 0; 0 = a free port; -1 = none; needs activemq-stomp.jar on the
// class path) it also listens for STOMP and prints "STOMP stomp://127.0.0.1:<port>". memoryLimitBytes (-1 = default) sets the
// broker's memory usage limit (systemUsage memoryUsage), as Ferry's MemoryLimit.
// With a jdbcUrl (PostgreSQL) the store is ActiveMQ's JDBC adapter with its default locker instead
// (JDBC master/slave: a slave blocks on the lock row); the classpath then needs activemq-jdbc-store.jar
// and postgresql.jar.
import java.io.File;
import org.apache.activemq.broker.BrokerService;
import org.apache.activemq.broker.TransportConnector;
import org.apache.activemq.store.kahadb.KahaDBPersistenceAdapter;

public class ActiveMQBenchBroker {
    public static void main(String[] args) throws Exception {
        File dataDir = new File(args[0]);
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        long maxSeconds = args.length > 2 ? Long.parseLong(args[2]) : 600;
        int stompPort = args.length > 3 ? Integer.parseInt(args[3]) : -1;
        long memoryLimit = args.length > 4 ? Long.parseLong(args[4]) : -1;
        BrokerService broker = new BrokerService();
        broker.setBrokerName("activemq-bench");
        broker.setPersistent(true);
        broker.setUseJmx(false);
        broker.setUseShutdownHook(true);
        broker.setSchedulerSupport(false);
        broker.setDataDirectoryFile(dataDir);
        String sync = "";
        if (args.length > 5) {
            // Loaded by name so the KahaDB-only scripts compile and run without the JDBC jars on the class path.
            Object dataSource = Class.forName("org.postgresql.ds.PGSimpleDataSource").getConstructor().newInstance();
            dataSource.getClass().getMethod("setUrl", String.class).invoke(dataSource, args[5]);
            Object jdbc = Class.forName("org.apache.activemq.store.jdbc.JDBCPersistenceAdapter").getConstructor().newInstance();
            jdbc.getClass().getMethod("setDataSource", javax.sql.DataSource.class).invoke(jdbc, dataSource);
            broker.setPersistenceAdapter((org.apache.activemq.store.PersistenceAdapter) jdbc);
        } else {
            KahaDBPersistenceAdapter kaha = new KahaDBPersistenceAdapter();
            kaha.setDirectory(new File(dataDir, "kahadb"));
            kaha.setJournalDiskSyncStrategy("always"); // the default (fsync every journal write batch); stated for the reader
            broker.setPersistenceAdapter(kaha);
            sync = " journalDiskSyncStrategy=" + kaha.getJournalDiskSyncStrategy();
        }
        if (memoryLimit > 0) {
            broker.getSystemUsage().getMemoryUsage().setLimit(memoryLimit);
        }
        TransportConnector tc = broker.addConnector("tcp://127.0.0.1:" + port);
        TransportConnector stomp = stompPort >= 0 ? broker.addConnector("stomp://127.0.0.1:" + stompPort) : null;
        broker.start();
        broker.waitUntilStarted();
        int actualPort = tc.getServer().getSocketAddress().getPort();
        System.out.println("READY tcp://127.0.0.1:" + actualPort + " store=" + broker.getPersistenceAdapter() + sync);
        if (stomp != null) {
            System.out.println("STOMP stomp://127.0.0.1:" + stomp.getServer().getSocketAddress().getPort());
        }
        System.out.flush();
        Thread.sleep(maxSeconds * 1000);
        System.out.println("broker lifetime of " + maxSeconds + " s reached, stopping");
        broker.stop();
        System.exit(0);
    }
}
