// Every call the UI makes to the gateway, in one module (docs/gateway.md is the contract).
// The rest of the UI never builds a URL or reads a response shape the gateway may change:
// a wiring change is made here.

const BASE = "/api/v1";

/** An RFC 9457 problem document the gateway answered (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === "object" ? problem : {};
    super(p.detail || p.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = p.code || (status === 0 ? "network" : "http_" + status);
    this.problem = p;
  }
}

/** Called with every ApiError of status 401 (the session ended: show the login). */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function call(method, path, { body, query, headers } = {}) {
  let url = BASE + path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
    const text = qs.toString();
    if (text) url += "?" + text;
  }
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...(headers || {}) } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { title: "gateway unreachable", detail: String(err && err.message ? err.message : err) });
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401 && path !== "/session") onUnauthorized(err);
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

/** A fresh idempotency key for one click of "send" (retries of that click reuse it). */
export function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return "ui-" + crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return "ui-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// ------------------------------------------------------------------ session

export const login = (apiKey) => call("POST", "/session", { body: { api_key: apiKey } });
export const logout = () => call("DELETE", "/session");

/** The session of the cookie (SessionView: key id, role, label, expiry); 401 → ApiError. */
export const session = () => call("GET", "/session");
export const health = () => call("GET", "/health");

// ------------------------------------------------------------------ reads

export const runners = () => call("GET", "/runners");
export const instruments = (exchange) => call("GET", "/instruments", { query: { exchange } });
export const book = (key, depth = 20) => call("GET", `/books/${enc(key)}`, { query: { depth } });
export const price = (key, source = "mid") => call("GET", `/prices/${enc(key)}`, { query: { source } });
export const fundingRates = (exchange) => call("GET", "/funding", { query: { exchange } });
export const balances = () => call("GET", "/balances");
export const positions = () => call("GET", "/positions");
export const openOrders = () => call("GET", "/orders");
export const orderHistory = (limit = 200) => call("GET", "/history/orders", { query: { limit } });
export const fillHistory = (limit = 200) => call("GET", "/history/fills", { query: { limit } });
export const fundingHistory = (limit = 200) => call("GET", "/history/funding", { query: { limit } });
export const strategies = () => call("GET", "/strategies");
export const strategyPairs = (name) => call("GET", `/strategies/${enc(name)}/pairs`, { query: { include_closed: true } });
export const strategyPnl = (name) => call("GET", `/strategies/${enc(name)}/pnl`);
export const strategyDecisions = (name, limit = 200) => call("GET", `/strategies/${enc(name)}/decisions`, { query: { limit } });
export const risk = () => call("GET", "/risk");
export const tradingStates = () => call("GET", "/trading-state");
export const command = (id) => call("GET", `/commands/${enc(id)}`);
export const commands = (limit = 50) => call("GET", "/commands", { query: { limit } });

// ------------------------------------------------------------------ the order ticket and changes

/** The ticket as the gateway's OrderTicket: decimals stay strings, empty price means none. */
export function orderTicket(t) {
  const body = { key: t.key, side: t.side, type: t.type, qty: String(t.qty), tif: t.tif, reduce_only: !!t.reduce_only };
  if (t.type === "limit" && t.price !== "" && t.price !== undefined && t.price !== null) body.price = String(t.price);
  if (t.runner) body.runner = t.runner;
  return body;
}

/** The order in a command's result (an OrderReply `{type: "order", order}` or the Order), or null. */
export function orderOf(result) {
  if (!result || typeof result !== "object") return null;
  if (result.order && typeof result.order === "object") return result.order;
  return result.client_id !== undefined && result.status ? result : null;
}

export const preview = (ticket) => call("POST", "/orders/preview", { body: orderTicket(ticket) });

/** Submit: 202/200 with the CommandView (waits up to `wait` s for its outcome). */
export const submitOrder = (ticket, idempotencyKey, wait = 5) =>
  call("POST", "/orders", { body: orderTicket(ticket), query: { wait }, headers: { "Idempotency-Key": idempotencyKey } });

export const cancelOrder = (key, ids, wait = 5) => {
  const body = { key };
  if (ids.client_id) body.client_id = ids.client_id;
  else if (ids.venue_id) body.venue_id = ids.venue_id;
  return call("POST", "/orders/cancel", { body, query: { wait }, headers: { "Idempotency-Key": newIdempotencyKey() } });
};

export const cancelAll = (filter = {}, wait = 5) =>
  call("POST", "/orders/cancel-all", { body: filter, query: { wait }, headers: { "Idempotency-Key": newIdempotencyKey() } });

export const killSwitch = (reason, wait = 10) =>
  call("POST", "/kill-switch", { body: { reason }, query: { wait }, headers: { "Idempotency-Key": newIdempotencyKey() } });

/** Ask a runner to reconcile orders, positions and balances with its venue now (admin). */
export const syncRunner = (name, wait = 15) =>
  call("POST", `/runners/${enc(name)}/sync`, { body: {}, query: { wait }, headers: { "Idempotency-Key": newIdempotencyKey() } });

export const setTradingState = (state, reason = "", wait = 10) =>
  call("POST", "/trading-state", { body: { state, reason, force: false }, query: { wait }, headers: { "Idempotency-Key": newIdempotencyKey() } });

// ------------------------------------------------------------------ the live stream

export const STREAM_TOPICS = ["book", "exec", "pos", "funding", "account", "status", "risk"];

/**
 * The WebSocket stream with resume. It keeps, per runner, the last journal sequence (`jseq`) it
 * took and sends it as `since` on every (re)connect, so the gateway replays what was missed or
 * sends a snapshot. Reconnects with capped exponential backoff; `onState(state, detail)` reports
 * `connecting` | `live` | `down` | `closed`; `onMessage(msg)` gets every server message.
 */
export class Stream {
  constructor({ onMessage, onState, filter = {} }) {
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.filter = filter; // {topics, exchange, instrument}
    this.since = {}; // runner → last jseq taken
    this.ws = null;
    this.attempt = 0;
    this.closed = false;
    this.timer = null;
    this.pingTimer = null;
    this.received = 0;
    this.connects = 0; // sockets opened
    this.replayed = 0; // events the gateway replayed from a runner's journal on a resume
    this.lastSubscribe = null;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}${BASE}/stream`;
  }

  connect() {
    this.closed = false;
    clearTimeout(this.timer);
    this.onState("connecting", this.attempt ? `retry ${this.attempt}` : "");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect(String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.connects += 1;
      this.sendSubscribe();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ op: "ping" }), 20000);
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      this.received += 1;
      if (msg.replayed) this.replayed += 1;
      if (msg.type === "subscribed") this.onState("live", "");
      if (msg.type === "event" && msg.runner && msg.jseq > 0) {
        if (!(msg.runner in this.since) || msg.jseq > this.since[msg.runner]) this.since[msg.runner] = msg.jseq;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) {
        this.onState("closed", "");
        return;
      }
      if (ev.code === 4001 || ev.code === 4003) {
        this.onState("down", ev.code === 4001 ? "unauthorized" : "forbidden");
        if (ev.code === 4001) onUnauthorized(new ApiError(401, { code: "unauthorized" }));
        return;
      }
      this.scheduleReconnect(ev.reason || `closed ${ev.code}`);
    };
  }

  scheduleReconnect(detail) {
    this.attempt += 1;
    const delay = Math.min(10000, 250 * 2 ** Math.min(this.attempt, 6)) * (0.75 + Math.random() * 0.5);
    this.onState("down", detail);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  sendSubscribe() {
    const msg = { op: "subscribe", topics: this.filter.topics || STREAM_TOPICS };
    if (this.filter.exchange) msg.exchange = this.filter.exchange;
    if (this.filter.instrument) msg.instrument = this.filter.instrument;
    if (Object.keys(this.since).length) msg.since = { ...this.since };
    this.lastSubscribe = msg;
    this.send(msg);
  }

  /** Change the filter (a second subscribe replaces the first; `since` carries over). */
  setFilter(filter) {
    this.filter = filter;
    this.sendSubscribe();
  }

  /** Drop the connection now and come back with `since` (used by the tests and the "reconnect" action). */
  reconnect() {
    if (this.ws) this.ws.close(4000, "client reconnect");
    else this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000, "bye"); // its onclose reports "closed"
    else this.onState("closed", "");
  }
}
