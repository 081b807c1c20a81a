// The npm STOMP client (@stomp/stompjs over the ws package) against a ws:// STOMP connector.
// Usage: node stomp_ws.mjs ws://127.0.0.1:PORT
// Checks what it receives; prints "PASS" and exits 0, or "FAIL <reason>" and exits 1. Every wait is bounded.
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const url = process.argv[2];
const run = Math.random().toString(16).slice(2, 10);
const WAIT_MS = 10000;

function fail(reason) {
  console.log('FAIL ' + reason);
  process.exit(1);
}

function check(condition, reason) {
  if (!condition) fail(reason);
}

function withTimeout(promise, what, ms = WAIT_MS) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out waiting for ' + what)), ms); }),
  ]);
}

function connect(protocols) {
  const client = new Client({
    webSocketFactory: () => new WebSocket(url, protocols),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  const connected = new Promise((resolve, reject) => {
    client.onConnect = (frame) => resolve(frame);
    client.onStompError = (frame) => reject(new Error('STOMP ERROR ' + frame.headers.message));
    client.onWebSocketError = () => reject(new Error('WebSocket error'));
  });
  client.activate();
  return withTimeout(connected, 'CONNECTED').then((frame) => ({ client, frame }));
}

function nextMessage(client, destination, headers, ms = WAIT_MS) {
  const queue = [];
  const waiters = [];
  client.subscribe(destination, (message) => {
    const waiter = waiters.shift();
    if (waiter) waiter(message); else queue.push(message);
  }, headers);
  return () => withTimeout(new Promise((resolve) => {
    const message = queue.shift();
    if (message) resolve(message); else waiters.push(resolve);
  }), 'a MESSAGE on ' + destination, ms);
}

async function main() {
  // Negotiates STOMP 1.2 over the v12.stomp subprotocol.
  const { client, frame } = await connect(['v12.stomp', 'v11.stomp', 'v10.stomp']);
  check(frame.headers.version === '1.2', 'version ' + frame.headers.version);
  const destination = '/queue/js.' + run;
  const next = nextMessage(client, destination, { ack: 'client-individual', id: 'js-sub' });

  client.publish({ destination, body: 'hello from stompjs', headers: { color: 'blue' } });
  const text = await next();
  check(text.body === 'hello from stompjs', 'text body ' + text.body);
  check(text.headers.color === 'blue', 'property ' + JSON.stringify(text.headers));
  check(text.headers.subscription === 'js-sub', 'subscription ' + text.headers.subscription);
  check(text.headers.ack !== undefined, 'no ack header in 1.2 client-individual');
  text.ack();

  const bytes = new Uint8Array([0x41, 0x00, 0x42, 0xff]);
  client.publish({ destination, binaryBody: bytes, headers: { 'content-type': 'application/octet-stream' } });
  const bin = await next();
  check(bin.headers['content-length'] === '4', 'content-length ' + bin.headers['content-length']);
  check(bin.isBinaryBody && bin.binaryBody.length === 4 && bin.binaryBody[3] === 0xff, 'binary body ' + Array.from(bin.binaryBody ?? []));
  bin.ack();

  // The acks arrived: a receipt on a later frame comes back after them, and nothing is redelivered.
  const receipt = withTimeout(new Promise((resolve) => client.watchForReceipt('r-js', resolve)), 'RECEIPT r-js');
  client.publish({ destination: '/queue/js.other.' + run, body: 'x', headers: { receipt: 'r-js' } });
  await receipt;
  await client.deactivate();

  const again = await connect(['v12.stomp']);
  const redelivered = nextMessage(again.client, destination, { ack: 'client-individual', id: 'js-sub' }, 1500);
  const leftover = await redelivered().then((m) => m, () => null);
  check(leftover === null, 'acked message redelivered: ' + leftover?.body);
  await again.client.deactivate();

  // A WebSocket offering no subprotocol, speaking raw STOMP 1.1 in a binary message.
  const raw = new WebSocket(url);
  const reply = await withTimeout(new Promise((resolve, reject) => {
    raw.on('open', () => raw.send(Buffer.from('CONNECT\naccept-version:1.1\nhost:localhost\n\n\0')));
    raw.on('message', (data) => resolve(data.toString()));
    raw.on('error', reject);
  }), 'CONNECTED on a raw WebSocket');
  check(reply.startsWith('CONNECTED\n') && reply.includes('version:1.1'), 'raw reply ' + JSON.stringify(reply));
  raw.close();
  console.log('PASS');
}

main().then(() => process.exit(0), (error) => fail(error.message));
