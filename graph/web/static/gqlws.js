// A minimal graphql-transport-ws client: one socket, many subscriptions, reconnects.
//
// How it works: connect() opens the socket and sends connection_init with the current
// connectionParams (the token may change between attempts). After connection_ack every live
// subscription is (re)sent, so a reconnect resumes them all. The server's ping gets a pong.
// A close we did not ask for schedules a reconnect after a full-jitter exponential backoff;
// 4401/4403 (not authorized) stop retrying until restart() is called with a new token.

const PROTOCOL = "graphql-transport-ws";
const AUTH_CODES = new Set([4401, 4403]);

export class GraphQLWsClient {
  constructor(url, { connectionParams = () => ({}), onStatus = () => {}, baseMs = 500, maxMs = 15000 } = {}) {
    this.url = url;
    this.connectionParams = connectionParams;
    this.onStatus = onStatus;
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.subs = new Map(); // id -> {payload, sink}
    this.nextId = 1;
    this.attempt = 0;
    this.ws = null;
    this.acked = false;
    this.timer = null;
    this.stopped = true;
  }

  subscribe(payload, sink) {
    const id = String(this.nextId++);
    this.subs.set(id, { payload, sink });
    if (this.acked) this.send({ id, type: "subscribe", payload });
    else if (this.stopped) this.start();
    return () => {
      if (this.subs.delete(id) && this.acked) this.send({ id, type: "complete" });
    };
  }

  start() {
    this.stopped = false;
    if (!this.ws && !this.timer) this.connect();
  }

  // Drop the socket and connect again now (e.g. with a new token).
  restart() {
    this.stop();
    this.attempt = 0;
    this.start();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      this.acked = false;
      ws.close(1000, "client stop");
    }
  }

  connect() {
    this.timer = null;
    this.onStatus("connecting");
    const ws = new WebSocket(this.url, PROTOCOL);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "connection_init", payload: this.connectionParams() }));
    };
    ws.onmessage = (event) => {
      if (ws === this.ws) this.receive(JSON.parse(event.data));
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return; // stop() or restart() already replaced it
      this.ws = null;
      this.acked = false;
      if (AUTH_CODES.has(event.code)) {
        this.stopped = true;
        this.onStatus("unauthorized", event.reason);
        return;
      }
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    const delay = Math.random() * cap;
    this.attempt += 1;
    this.onStatus("reconnecting", `retry in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(message) {
    const sub = message.id === undefined ? undefined : this.subs.get(message.id);
    switch (message.type) {
      case "connection_ack":
        this.acked = true;
        this.attempt = 0;
        this.onStatus("live");
        for (const [id, { payload }] of this.subs) this.send({ id, type: "subscribe", payload });
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        if (sub) sub.sink.next(message.payload);
        break;
      case "error":
        if (sub) {
          this.subs.delete(message.id);
          sub.sink.error(message.payload);
        }
        break;
      case "complete":
        if (sub) {
          this.subs.delete(message.id);
          sub.sink.complete();
        }
        break;
      default:
        break; // pong, and anything newer than this client
    }
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}
