// The UI's state: loaded from REST, then kept current by stream messages. Panels subscribe to
// named parts and re-render at most once per animation frame.

import { keyText } from "./fmt.js";

const FILL_CAP = 500;
const HISTORY_CAP = 500;

export const state = {
  session: null, // SessionView
  runners: new Map(), // name → RunnerView (+ live status)
  instruments: new Map(), // key text → Instrument
  books: new Map(), // key text → {book, seq, runner, stale}
  funding: new Map(), // key text → FundingRate
  positions: new Map(), // key text → Position
  orders: new Map(), // "key|client_id" → Order (open + unresolved)
  orderRunner: new Map(), // order id → runner name
  history: [], // closed orders (newest first)
  fills: [], // fills (newest first)
  fundingPayments: [],
  balances: new Map(), // runner → AccountSnapshot
  risk: new Map(), // runner → RiskStatus
  tradingState: new Map(), // runner → {state, reason}
  strategies: [], // StrategyView
  commands: [], // CommandView, newest first
  selected: "", // the instrument the book and ticket show
  stream: { state: "idle", detail: "", received: 0 },
};

// ------------------------------------------------------------------ change notification

const listeners = new Map(); // part → Set(fn)
const dirty = new Set();
let scheduled = false;

export function on(part, fn) {
  if (!listeners.has(part)) listeners.set(part, new Set());
  listeners.get(part).add(fn);
}

export function changed(...parts) {
  for (const p of parts) dirty.add(p);
  if (scheduled) return;
  scheduled = true;
  const flush = () => {
    scheduled = false;
    const parts = Array.from(dirty);
    dirty.clear();
    const called = new Set();
    for (const p of parts) {
      for (const fn of listeners.get(p) || []) {
        if (called.has(fn)) continue;
        called.add(fn);
        fn();
      }
    }
  };
  // rAF is paused in background tabs; fall back to a timer so state still settles
  if (document.visibilityState === "visible") requestAnimationFrame(flush);
  else setTimeout(flush, 250);
}

// ------------------------------------------------------------------ ids

export const orderId = (o) => `${keyText(o.key)}|${o.client_id || o.venue_id}`;
const OPEN = new Set(["pending", "unknown", "new", "partially_filled"]);
export const isOpen = (o) => OPEN.has(o.status);

function runnerOfExchange(exchange) {
  for (const r of state.runners.values()) if (r.exchange === exchange) return r.name;
  return "";
}

// ------------------------------------------------------------------ REST loads

export function setRunners(list) {
  const seen = new Set();
  for (const r of list || []) {
    seen.add(r.name);
    const prev = state.runners.get(r.name);
    state.runners.set(r.name, { ...prev, ...r });
  }
  for (const name of Array.from(state.runners.keys())) if (!seen.has(name)) state.runners.delete(name);
  changed("runners");
}

export function setInstruments(list) {
  for (const i of list || []) state.instruments.set(keyText(i.key), i);
  changed("instruments", "markets");
}

export function setBook(view) {
  if (!view || !view.book) return;
  const k = keyText(view.book.key);
  state.books.set(k, { book: view.book, seq: view.seq || 0, runner: view.runner || "", stale: false });
  changed("book:" + k, "markets");
}

export function setFunding(list) {
  for (const f of list || []) state.funding.set(keyText(f.key), f);
  changed("funding-rates", "markets", "book-refs");
}

export function setPositions(list) {
  state.positions.clear();
  for (const p of list || []) state.positions.set(keyText(p.key), p);
  changed("positions");
}

export function setOpenOrders(list) {
  state.orders.clear();
  for (const o of list || []) state.orders.set(orderId(o), o);
  changed("orders");
}

export function setHistory(rows) {
  state.history = (rows || []).slice().sort((a, b) => (b.updated_ts_ms || 0) - (a.updated_ts_ms || 0)).slice(0, HISTORY_CAP);
  changed("history");
}

export function setFills(rows) {
  state.fills = (rows || []).slice().sort((a, b) => (b.ts_ms || 0) - (a.ts_ms || 0)).slice(0, FILL_CAP);
  changed("fills");
}

export function setFundingPayments(rows) {
  state.fundingPayments = (rows || []).slice().sort((a, b) => (b.ts_ms || 0) - (a.ts_ms || 0)).slice(0, HISTORY_CAP);
  changed("funding-payments");
}

export function setBalances(list) {
  for (const b of list || []) if (b && b.account) state.balances.set(b.runner, b.account);
  changed("balances");
}

export function setRisk(list) {
  state.risk.clear(); // the whole list each time
  for (const r of list || []) {
    const name = r.runner || runnerOfExchange(r.exchange) || r.exchange;
    state.risk.set(name, r.status || r);
  }
  changed("risk");
}

export function setTradingStates(list) {
  for (const t of list || []) state.tradingState.set(t.runner, { state: t.state, reason: t.reason || "", error: t.error || "" });
  changed("trading-state");
}

export function setCommands(list) {
  state.commands = (list || []).slice().sort((a, b) => (b.created_ms || 0) - (a.created_ms || 0));
  changed("commands");
}

export function setStrategies(list) {
  state.strategies = list || [];
  changed("strategies");
}

// ------------------------------------------------------------------ stream events

/** One wire event (the `event` field of a stream message) from `runner`. */
export function applyEvent(runner, ev, meta = {}) {
  switch (ev && ev.event) {
    case "book": {
      const k = keyText(ev.book.key);
      state.books.set(k, { book: ev.book, seq: meta.seq || 0, runner, stale: !!ev.stale });
      changed("book:" + k, "markets");
      break;
    }
    case "order":
      applyOrder(runner, ev.order, ev.fill);
      break;
    case "position": {
      const k = keyText(ev.position.key);
      if (ev.closed || /^-?0(\.0*)?$/.test(String(ev.position.size))) state.positions.delete(k);
      else state.positions.set(k, ev.position);
      changed("positions");
      break;
    }
    case "funding":
      state.funding.set(keyText(ev.funding.key), ev.funding);
      changed("funding-rates", "markets", "book-refs");
      break;
    case "funding_payment":
      state.fundingPayments.unshift({ ...ev.payment, key: keyText(ev.payment.key), stream: runner });
      state.fundingPayments.length = Math.min(state.fundingPayments.length, HISTORY_CAP);
      changed("funding-payments");
      break;
    case "account":
      state.balances.set(runner, ev.account);
      for (const p of ev.account.positions || []) state.positions.set(keyText(p.key), p);
      changed("balances", "positions");
      break;
    case "runner_status": {
      const r = state.runners.get(runner) || { name: runner, exchange: ev.exchange };
      state.runners.set(runner, { ...r, last_status: ev.status, last_status_detail: ev.detail, streams: ev.streams || {}, queues: ev.queues || r.queues });
      changed("runners");
      break;
    }
    case "risk": {
      const r = ev.risk || {};
      if (r.state) state.tradingState.set(runner, { state: r.state, reason: r.reason || "", error: "" });
      changed("trading-state", "risk");
      break;
    }
    default:
      break;
  }
}

/** Whether we already hold a newer state of this order (a command's reply can arrive after the
 * stream told of a fill or a cancel: an older "new" must not reopen it). */
function outdated(id, order) {
  const ts = order.updated_ts_ms || 0;
  const open = state.orders.get(id);
  if (open && (open.updated_ts_ms || 0) > ts) return true;
  const done = state.history.find((h) => `${keyText(h.key)}|${h.client_id || h.venue_id}` === id);
  return !!done && isOpen(order) && (done.updated_ts_ms || 0) >= ts;
}

function applyOrder(runner, order, fill) {
  const id = orderId(order);
  if (outdated(id, order)) {
    if (!fill) return;
  } else if (isOpen(order)) {
    if (runner) state.orderRunner.set(id, runner);
    state.orders.set(id, order);
  } else {
    state.orderRunner.delete(id); // kept for open orders only (bounded like them)
    state.orders.delete(id);
    const row = { ...order, key: keyText(order.key), stream: runner };
    state.history = [row, ...state.history.filter((h) => `${keyText(h.key)}|${h.client_id || h.venue_id}` !== id)].slice(0, HISTORY_CAP);
    changed("history");
  }
  const fid = fill && `${keyText(fill.key)}|${fill.trade_id}`;
  if (fill && !state.fills.some((f) => `${keyText(f.key)}|${f.trade_id}` === fid)) {
    state.fills.unshift({ ...fill, key: keyText(fill.key), stream: runner });
    state.fills.length = Math.min(state.fills.length, FILL_CAP);
    changed("fills");
  }
  changed("orders");
}

/** A `snapshot` message: replace the parts it carries for its runner. */
export function applySnapshot(msg) {
  const runner = msg.runner;
  const exchange = (state.runners.get(runner) || {}).exchange;
  const mine = (k) => !exchange || keyText(k).startsWith(exchange + ":");
  if (Array.isArray(msg.books)) for (const b of msg.books) applyEvent(runner, { event: "book", book: b });
  if (Array.isArray(msg.funding)) for (const f of msg.funding) state.funding.set(keyText(f.key), f);
  if (Array.isArray(msg.orders)) {
    for (const [id, o] of Array.from(state.orders)) if (mine(o.key)) state.orders.delete(id);
    for (const o of msg.orders) state.orders.set(orderId(o), o);
  }
  if (Array.isArray(msg.positions)) {
    for (const [k, p] of Array.from(state.positions)) if (mine(p.key)) state.positions.delete(k);
    for (const p of msg.positions) state.positions.set(keyText(p.key), p);
  }
  if (msg.account) state.balances.set(runner, msg.account);
  changed("orders", "positions", "balances", "markets", "book-refs", "funding-rates");
}
