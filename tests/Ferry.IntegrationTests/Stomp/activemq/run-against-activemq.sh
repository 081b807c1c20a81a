#!/usr/bin/env bash
# Runs the stomp.py scenarios against a reference Apache ActiveMQ 5.17 broker (Debian
# libactivemq-java, embedded via Interop/java/ActiveMQStompBroker.java) on a free 127.0.0.1 port, so the
# expectations the Ferry tests assert are ActiveMQ's behaviour. Usage: ./run-against-activemq.sh [scenario ...]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
J=/usr/share/java
CP=$(ls $J/activemq-broker.jar $J/activemq-client.jar $J/activemq-stomp.jar $J/geronimo-jms_1.1_spec.jar \
  $J/geronimo-j2ee-management-1.1-spec.jar $J/hawtbuf.jar $J/slf4j-api.jar $J/slf4j-nop.jar 2>/dev/null | paste -sd: -)
SCENARIOS=${*:-versions text_and_bytes topic ack_auto ack_client ack_client_individual unexpected_ack nack selector selector_numeric transactions receipts durable temp_queue heartbeats silent_client_dropped prefetch exclusive}
WORK=$(mktemp -d)
BROKER_PID=
cleanup() {
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
java -Djava.io.tmpdir="$WORK" -cp "$CP" "$HERE/../../Interop/java/ActiveMQStompBroker.java" 0 300 >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 120); do grep -q '^READY ' "$WORK/broker.log" && break; sleep 0.5; done
PORT=$(sed -n 's/^READY stomp:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/broker.log")
[ -n "$PORT" ] || { echo "ActiveMQ did not start:"; cat "$WORK/broker.log"; exit 1; }
failed=0
for s in $SCENARIOS; do
  if out=$(timeout 60 /usr/bin/python3 "$HERE/../python/stomp_scenarios.py" 127.0.0.1 "$PORT" "$s" 2>&1); then
    echo "$out" | tail -n 1
  else
    echo "$out" | tail -n 5; failed=$((failed + 1))
  fi
done
echo "$failed scenario(s) failed against ActiveMQ"
[ "$failed" -eq 0 ]
