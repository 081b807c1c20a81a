#!/usr/bin/env bash
# Compiles FerryInterop.java, starts a reference Apache ActiveMQ 5.17 broker (Debian libactivemq-java,
# embedded via ActiveMQTestBroker.java) on a free 127.0.0.1 port, runs the scenarios, stops the broker.
# Usage: ./run-against-activemq.sh [scenario ...]     (default: all seven)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
J=/usr/share/java
CP=$J/activemq-client.jar:$J/geronimo-jms_1.1_spec.jar:$J/geronimo-j2ee-management-1.1-spec.jar:$J/hawtbuf.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar
SCENARIOS=${*:-connect types topic3 competing clientack tempreply browser}
WORK=$(mktemp -d)
BROKER_PID=

cleanup() {
  if [ -n "$BROKER_PID" ]; then
    kill "$BROKER_PID" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$BROKER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

javac -cp "$CP" -d "$WORK/classes" "$HERE/FerryInterop.java" || exit 1

# Broker lives at most 300 s even if this script is killed hard.
java -Djava.io.tmpdir="$WORK" -cp "$J/activemq-broker.jar:$CP" "$HERE/ActiveMQTestBroker.java" 0 300 \
  >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 60); do
  grep -q '^READY ' "$WORK/broker.log" && break
  kill -0 "$BROKER_PID" 2>/dev/null || break
  sleep 0.5
done
URL=$(sed -n 's/^READY //p' "$WORK/broker.log")
[ -n "$URL" ] || { echo "reference broker did not start:"; cat "$WORK/broker.log"; exit 1; }
echo "reference ActiveMQ broker at $URL"

failed=""
for s in $SCENARIOS; do
  echo "== $s"
  timeout 60 java -cp "$WORK/classes:$CP" FerryInterop "$URL" "$s" || failed="$failed $s"
done
if [ -n "$failed" ]; then echo "FAILED:$failed"; exit 1; fi
echo "ALL PASSED"
