"""STOMP scenarios driven through the real stomp.py client (Debian python3-stomp).

Usage: stomp_scenarios.py HOST PORT SCENARIO
Each scenario checks what it receives and ends with the line "PASS <scenario>" (exit 0), or
prints "FAIL <reason>" (exit 1). Every wait is bounded. Used by Ferry's integration tests and
runnable unchanged against ActiveMQ's STOMP connector, so the expectations are ActiveMQ's.
"""
import queue
import socket
import sys
import time
import uuid

import stomp

HOST = sys.argv[1]
PORT = int(sys.argv[2])
SCENARIO = sys.argv[3]
WAIT = 10.0
RUN = uuid.uuid4().hex[:8]


class Collector(stomp.ConnectionListener):
    def __init__(self):
        self.messages = queue.Queue()
        self.errors = queue.Queue()
        self.receipts = queue.Queue()
        self.heartbeats = 0
        self.disconnected = False

    def on_message(self, frame):
        self.messages.put(frame)

    def on_error(self, frame):
        self.errors.put(frame)

    def on_receipt(self, frame):
        self.receipts.put(frame.headers.get("receipt-id"))

    def on_heartbeat(self):
        self.heartbeats += 1

    def on_disconnected(self):
        self.disconnected = True

    def next(self, what="a message"):
        try:
            return self.messages.get(timeout=WAIT)
        except queue.Empty:
            fail(f"timed out waiting for {what}")

    def take(self, n, what="messages"):
        return [self.next(f"{what} ({i + 1} of {n})") for i in range(n)]

    def none_within(self, seconds, what):
        try:
            frame = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        fail(f"unexpected {what}: {frame.headers} {frame.body!r}")

    def receipt(self, expected):
        try:
            got = self.receipts.get(timeout=WAIT)
        except queue.Empty:
            fail(f"no RECEIPT {expected}")
        check(got == expected, f"RECEIPT {got}, expected {expected}")

    def error(self):
        try:
            return self.errors.get(timeout=WAIT)
        except queue.Empty:
            fail("no ERROR frame")


def fail(reason):
    print("FAIL " + reason, flush=True)
    sys.exit(1)


def check(condition, reason):
    if not condition:
        fail(reason)


def connect(version="1.2", client_id=None, heartbeats=(0, 0), auto_content_length=True):
    cls = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}[version]
    kwargs = {"auto_content_length": auto_content_length}
    if version != "1.0":
        kwargs["heartbeats"] = heartbeats
    conn = cls([(HOST, PORT)], **kwargs)
    listener = Collector()
    conn.set_listener("c", listener)
    headers = {"client-id": client_id} if client_id else {}
    conn.connect("guest", "guest", wait=True, headers=headers)
    return conn, listener


def disconnect_and_wait(conn, listener):
    # stomp.py does not wait for the DISCONNECT receipt; a client id is free again only after it.
    conn.disconnect(receipt="bye")
    listener.receipt("bye")


def queue_name(tag):
    return f"/queue/py.{tag}.{RUN}"


def text(frame):
    return frame.body if isinstance(frame.body, str) else frame.body.decode("utf-8")


# ---- scenarios ----

def scenario_versions():
    for version in ("1.0", "1.1", "1.2"):
        conn, l = connect(version)
        dest = queue_name("v" + version.replace(".", ""))
        if version == "1.0":
            conn.subscribe(dest, ack="auto")
        else:
            conn.subscribe(dest, id="s", ack="auto")
        conn.send(dest, f"hello {version}", headers={"k": "v:" + version})
        m = l.next()
        check(text(m) == f"hello {version}", f"{version}: body {m.body!r}")
        check(m.headers.get("k") == "v:" + version, f"{version}: header k = {m.headers.get('k')}")
        check(m.headers.get("destination") == dest, f"{version}: destination {m.headers.get('destination')}")
        check(m.headers.get("message-id", "").startswith("ID:"), f"{version}: message-id {m.headers.get('message-id')}")
        if version == "1.0":
            check("subscription" not in m.headers, "1.0 id-less SUBSCRIBE got a subscription header")
        else:
            check(m.headers.get("subscription") == "s", f"{version}: subscription {m.headers.get('subscription')}")
        conn.disconnect()
        print(f"version {version} ok", flush=True)


def scenario_topic():
    # Every subscriber of a topic gets each message, whatever its ack mode; wildcards match.
    topic = f"/topic/py.topic.{RUN}"
    a, al = connect()
    a.subscribe(topic, id="a", ack="auto", headers={"receipt": "ra"})
    al.receipt("ra")
    b, bl = connect("1.1")
    b.subscribe(f"/topic/py.topic.>", id="b", ack="client", headers={"receipt": "rb", "selector": f"run = '{RUN}'"})
    bl.receipt("rb")
    for i in range(20):
        a.send(topic, f"t{i}", headers={"run": RUN})
    got_a = [text(m) for m in al.take(20, "topic messages on the auto subscriber")]
    got_b = bl.take(20, "topic messages on the wildcard client subscriber")
    check(got_a == [f"t{i}" for i in range(20)], f"auto subscriber got {got_a}")
    check([text(m) for m in got_b] == got_a, f"wildcard subscriber got {[text(m) for m in got_b]}")
    check(all(m.headers.get("destination") == topic for m in got_b), f"destination {got_b[0].headers}")
    b.ack(got_b[-1].headers["message-id"], "b", receipt="acked")
    bl.receipt("acked")
    a.disconnect()
    b.disconnect()


def scenario_text_and_bytes():
    # Without content-length: a TextMessage (no content-length back); with it: a BytesMessage.
    plain, pl = connect(auto_content_length=False)
    dest = queue_name("tb")
    plain.subscribe(dest, id="s", ack="auto")
    plain.send(dest, "just text", headers={"persistent": "true", "priority": "7", "type": "greeting", "correlation-id": "c-1"})
    m = pl.next()
    check(text(m) == "just text", f"text body {m.body!r}")
    check("content-length" not in m.headers, f"text message came back with content-length {m.headers}")
    check(m.headers.get("persistent") == "true", f"persistent {m.headers}")
    check(m.headers.get("priority") == "7", f"priority {m.headers}")
    check(m.headers.get("type") == "greeting", f"type {m.headers}")
    check(m.headers.get("correlation-id") == "c-1", f"correlation-id {m.headers}")
    plain.disconnect()

    conn, l = connect()
    conn.subscribe(dest, id="s", ack="auto")
    payload = b"A\x00B\x01"
    conn.send(dest, payload)
    m = l.next()
    body = m.body if isinstance(m.body, bytes) else m.body.encode("utf-8")
    check(m.headers.get("content-length") == str(len(payload)), f"bytes content-length {m.headers}")
    check(len(body) == len(payload), f"bytes body length {len(body)}")
    conn.disconnect()


def scenario_ack_auto():
    conn, l = connect()
    dest = queue_name("auto")
    conn.subscribe(dest, id="s", ack="auto")
    for i in range(5):
        conn.send(dest, f"m{i}")
    got = [text(m) for m in l.take(5)]
    check(got == [f"m{i}" for i in range(5)], f"order {got}")
    conn.disconnect()
    # Nothing comes back: auto mode acknowledged every delivery.
    again, l2 = connect()
    again.subscribe(dest, id="s2", ack="client")
    l2.none_within(1.0, "redelivery after auto ack")
    again.disconnect()


def scenario_ack_client():
    conn, l = connect()
    dest = queue_name("client")
    conn.subscribe(dest, id="s", ack="client")
    for i in range(4):
        conn.send(dest, f"m{i}")
    msgs = l.take(4)
    check(all("ack" in m.headers for m in msgs), f"1.2 client MESSAGE without ack header {msgs[0].headers}")
    # Cumulative: acking the third acks the first three.
    conn.ack(msgs[2].headers["ack"], receipt="acked")
    l.receipt("acked")
    conn.disconnect()
    again, l2 = connect()
    again.subscribe(dest, id="s", ack="client")
    m = l2.next("the unacked message")
    check(text(m) == "m3", f"redelivered {text(m)}")
    check(m.headers.get("redelivered") == "true", f"redelivered header {m.headers}")
    again.ack(m.headers["ack"])
    l2.none_within(1.0, "more redeliveries")
    again.disconnect()


def scenario_ack_client_individual():
    conn, l = connect("1.1")
    dest = queue_name("indiv")
    conn.subscribe(dest, id="s", ack="client-individual")
    for i in range(3):
        conn.send(dest, f"m{i}")
    msgs = l.take(3)
    check(all("ack" not in m.headers for m in msgs), "1.1 MESSAGE with an ack header")
    conn.ack(msgs[0].headers["message-id"], "s")
    conn.ack(msgs[2].headers["message-id"], "s", receipt="r")
    l.receipt("r")
    conn.disconnect()
    again, l2 = connect()
    again.subscribe(dest, id="s", ack="client-individual")
    m = l2.next()
    check(text(m) == "m1", f"only m1 should come back, got {text(m)}")
    again.ack(m.headers["ack"])
    l2.none_within(1.0, "more redeliveries")
    again.disconnect()


def scenario_unexpected_ack():
    conn, l = connect()
    dest = queue_name("unexp")
    conn.subscribe(dest, id="s", ack="auto")
    conn.send(dest, "x")
    m = l.next()
    conn.ack("no-such-ack-id", receipt="bad-ack")
    e = l.error()
    check("Unexpected ACK" in e.headers.get("message", ""), f"error {e.headers}")
    check(e.headers.get("receipt-id") == "bad-ack", f"error receipt-id {e.headers}")
    # The connection stays usable.
    conn.send(dest, "still here")
    check(text(l.next()) == "still here", "connection unusable after a non-fatal ERROR")
    conn.disconnect()


def scenario_nack():
    conn, l = connect()
    dest = queue_name("nack")
    dlq, dl = connect()
    dlq.subscribe("/queue/ActiveMQ.DLQ", id="d", ack="client-individual")
    conn.subscribe(dest, id="s", ack="client-individual")
    conn.send(dest, "poison", headers={"persistent": "true", "tag": RUN})
    m = l.next()
    conn.nack(m.headers["ack"], receipt="nacked")
    l.receipt("nacked")
    l.none_within(1.0, "redelivery of a NACKed message")
    while True:
        d = dl.next("the NACKed message on the DLQ")
        dlq.ack(d.headers["ack"])
        if d.headers.get("tag") == RUN:
            break
    check(text(d) == "poison", f"DLQ body {d.body!r}")
    check(d.headers.get("original-destination") == dest, f"original-destination {d.headers}")
    conn.disconnect()
    dlq.disconnect()


def scenario_selector():
    conn, l = connect()
    dest = queue_name("sel")
    conn.subscribe(dest, id="s", ack="auto", headers={"selector": "color = 'red'"})
    for color in ("blue", "red", "green", "red"):
        conn.send(dest, color, headers={"color": color})
    got = [text(m) for m in l.take(2)]
    check(got == ["red", "red"], f"selected {got}")
    l.none_within(1.0, "a message the selector excludes")
    conn.disconnect()


def scenario_selector_numeric():
    # STOMP properties are strings; ActiveMQ still compares them as numbers in a selector.
    conn, l = connect()
    dest = queue_name("seln")
    conn.subscribe(dest, id="s", ack="auto", headers={"selector": "n > 5"})
    for n in (3, 7, 5, 12):
        conn.send(dest, f"n{n}", headers={"n": str(n)})
    got = [text(m) for m in l.take(2)]
    check(got == ["n7", "n12"], f"selected {got}")
    l.none_within(1.0, "a message the selector excludes")
    conn.disconnect()


def scenario_transactions():
    conn, l = connect()
    dest = queue_name("tx")
    conn.subscribe(dest, id="s", ack="client")
    tx = conn.begin()
    conn.send(dest, "aborted", transaction=tx)
    conn.abort(tx)
    tx = conn.begin()
    conn.send(dest, "committed-1", transaction=tx)
    conn.send(dest, "committed-2", transaction=tx)
    l.none_within(0.5, "a transacted send before commit")
    conn.commit(tx, headers={"receipt": "c"})
    l.receipt("c")
    msgs = l.take(2)
    check([text(m) for m in msgs] == ["committed-1", "committed-2"], f"got {[text(m) for m in msgs]}")
    # An ACK inside an aborted transaction can be made again; after a commit the message is gone.
    tx = conn.begin()
    conn.ack(msgs[1].headers["ack"], transaction=tx)
    conn.abort(tx)
    tx = conn.begin()
    conn.ack(msgs[1].headers["ack"], transaction=tx)
    conn.commit(tx, headers={"receipt": "c2"})
    l.receipt("c2")
    conn.commit("never-begun", headers={"receipt": "bad"})
    e = l.error()
    check("Invalid transaction id" in e.headers.get("message", ""), f"error {e.headers}")
    conn.disconnect()
    again, l2 = connect()
    again.subscribe(dest, id="s", ack="client")
    l2.none_within(1.0, "a message acked in a committed transaction")
    again.disconnect()


def scenario_receipts():
    conn, l = connect()
    dest = queue_name("rcpt")
    conn.subscribe(dest, id="s", ack="client", headers={"receipt": "sub"})
    l.receipt("sub")
    conn.send(dest, "x", headers={"receipt": "send"})
    l.receipt("send")
    m = l.next()
    conn.ack(m.headers["ack"], receipt="ack")
    l.receipt("ack")
    tx = conn.begin(headers={"receipt": "begin"})
    l.receipt("begin")
    conn.abort(tx, headers={"receipt": "abort"})
    l.receipt("abort")
    conn.unsubscribe("s", headers={"receipt": "unsub"})
    l.receipt("unsub")
    conn.disconnect(receipt="bye")
    l.receipt("bye")


def scenario_durable():
    client = "py-durable-" + RUN
    topic = f"/topic/py.durable.{RUN}"
    sub_headers = {"activemq.subscriptionName": "sub1"}
    conn, l = connect(client_id=client)
    conn.subscribe(topic, id="d", ack="client", headers=dict(sub_headers, receipt="subscribed"))
    l.receipt("subscribed")
    disconnect_and_wait(conn, l)
    producer, _ = connect()
    for i in range(3):
        producer.send(topic, f"while-away-{i}", headers={"persistent": "true"})
    producer.disconnect()
    conn, l = connect(client_id=client)
    conn.subscribe(topic, id="d", ack="client", headers=sub_headers)
    msgs = l.take(3, "messages kept for the durable subscription")
    check([text(m) for m in msgs] == [f"while-away-{i}" for i in range(3)], f"got {[text(m) for m in msgs]}")
    conn.ack(msgs[-1].headers["ack"])
    # Removing an active durable subscription is refused; close the consumer first, then remove it.
    conn.unsubscribe("d", headers={"receipt": "closed"})
    l.receipt("closed")
    conn.unsubscribe("d", headers=dict(sub_headers, receipt="removed"))
    l.receipt("removed")
    disconnect_and_wait(conn, l)


def scenario_temp_queue():
    requester, rl = connect()
    responder, sl = connect()
    service = queue_name("svc")
    responder.subscribe(service, id="svc", ack="auto")
    requester.subscribe("/temp-queue/replies", id="r", ack="auto", headers={"receipt": "r"})
    rl.receipt("r")
    requester.send(service, "ping", headers={"reply-to": "/temp-queue/replies"})
    req = sl.next("the request")
    reply_to = req.headers.get("reply-to", "")
    check(reply_to.startswith("/remote-temp-queue/"), f"responder sees reply-to {reply_to}")
    responder.send(reply_to, "pong")
    rep = rl.next("the reply")
    check(text(rep) == "pong", f"reply {rep.body!r}")
    check(rep.headers.get("destination") == "/temp-queue/replies", f"reply destination {rep.headers}")
    requester.disconnect()
    responder.disconnect()


def scenario_heartbeats():
    conn, l = connect(heartbeats=(500, 500))
    time.sleep(3.0)
    check(conn.is_connected(), "connection dropped although both sides heart-beat")
    check(l.heartbeats >= 2, f"only {l.heartbeats} broker heart-beats in 3 s at 500 ms")
    conn.disconnect()


def scenario_silent_client_dropped():
    # A raw client promises a heart-beat every 500 ms and then stays silent: the broker drops it.
    s = socket.create_connection((HOST, PORT), timeout=WAIT)
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:500,0\n\n\x00")
    deadline = time.monotonic() + 15
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    else:
        fail("broker kept a silent client for 15 s")
    check(data.startswith(b"CONNECTED"), f"expected CONNECTED first, got {data[:60]!r}")
    print("silent client dropped", flush=True)


def scenario_prefetch():
    dest = queue_name("prefetch")
    slow, sl = connect()
    slow.subscribe(dest, id="slow", ack="client", headers={"activemq.prefetchSize": "1", "receipt": "r"})
    sl.receipt("r")
    producer, _ = connect()
    fast, fl = connect()
    fast.subscribe(dest, id="fast", ack="auto", headers={"receipt": "r2"})
    fl.receipt("r2")
    for i in range(6):
        producer.send(dest, f"m{i}")
    first = sl.next("the one message the prefetch-1 consumer may hold")
    others = fl.take(5, "the rest, on the other consumer")
    check(len(others) == 5, "other consumer")
    sl.none_within(0.5, "a second message beyond prefetch 1")
    slow.ack(first.headers["ack"])
    slow.disconnect()
    producer.disconnect()
    fast.disconnect()


def scenario_exclusive():
    dest = queue_name("excl")
    a, al = connect()
    a.subscribe(dest, id="a", ack="auto", headers={"activemq.exclusive": "true", "receipt": "r"})
    al.receipt("r")
    b, bl = connect()
    b.subscribe(dest, id="b", ack="auto", headers={"receipt": "r"})
    bl.receipt("r")
    for i in range(6):
        a.send(dest, f"m{i}")
    got = [text(m) for m in al.take(6, "every message on the exclusive consumer")]
    check(got == [f"m{i}" for i in range(6)], f"exclusive got {got}")
    bl.none_within(0.5, "a message on the non-exclusive consumer")
    a.disconnect()
    b.disconnect()


def main():
    fn = globals().get("scenario_" + SCENARIO)
    if fn is None:
        fail("unknown scenario " + SCENARIO)
    fn()
    print("PASS " + SCENARIO, flush=True)


main()
