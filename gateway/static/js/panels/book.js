// The book ladder of the selected instrument, and its reference prices and funding.

import * as api from "../api.js";
import { $, h } from "../dom.js";
import { add, ago, dec, fixed, keyText, mul, num, pct, sub, until } from "../fmt.js";
import { on, setBook, state } from "../store.js";
import { placesFor } from "./runners.js";

const DEPTH = 20; // levels asked for; the ladder shows what fits
const ROW_PX = 17;
let last = { bid: "", ask: "" }; // the best prices shown, to flash a change
let shown = "";

function cumulative(levels) {
  let total = "0";
  return levels.map(([px, qty]) => {
    total = add(total, qty);
    return [px, qty, total];
  });
}

/** My open orders' quantities by price on one instrument ("50000.1" → "0.003"). */
function myOrders(k) {
  const out = new Map();
  for (const o of state.orders.values()) {
    if (keyText(o.key) !== k || o.price === null || o.price === undefined) continue;
    const p = dec(o.price);
    out.set(p, add(out.get(p) || "0", sub(o.qty, o.filled_qty || "0")));
  }
  return out;
}

// The ladder's rows are made once per size and updated in place on each tick (a row replaced
// between mousedown and mouseup would swallow the click that puts its price in the ticket).
let pool = null; // {fit, head, spread, asks: [row], bids: [row]} (asks[0] is the best ask)

function makeRow(side) {
  const row = h("div.lv", { class: side, dataset: { side } }, h("span.bar"), h("span.px"), h("span.qty"), h("span.tot"));
  row.addEventListener("click", () => {
    if (row.dataset.price) document.dispatchEvent(new CustomEvent("ticket-price", { detail: row.dataset.price }));
  });
  return row;
}

function ensureRows(box, fit) {
  if (pool && pool.fit === fit && pool.head.parentNode === box) return pool;
  pool = {
    fit,
    head: h("div.lv.head", null, h("span", null, "price"), h("span", null, "size"), h("span", null, "total")),
    spread: h("div.spread"),
    asks: Array.from({ length: fit }, () => makeRow("ask")),
    bids: Array.from({ length: fit }, () => makeRow("bid")),
  };
  pool.asks[0].querySelector(".px").dataset.testid = "book-best-ask";
  pool.bids[0].querySelector(".px").dataset.testid = "book-best-bid";
  box.replaceChildren(pool.head, ...pool.asks.slice().reverse(), pool.spread, ...pool.bids);
  return pool;
}

const setText = (el, text) => {
  if (el.textContent !== text) el.textContent = text;
};

function fillRow(row, lv, places, maxTotal, level, mine) {
  if (!lv) {
    row.style.visibility = "hidden";
    row.dataset.price = "";
    return;
  }
  const [px, qty, total] = lv;
  row.style.visibility = "";
  row.dataset.price = px;
  row.dataset.level = String(level);
  row.firstChild.style.width = `${Math.min(100, (num(total) / maxTotal) * 100).toFixed(1)}%`;
  setText(row.children[1], fixed(px, places.px));
  setText(row.children[2], fixed(qty, places.qty));
  setText(row.children[3], fixed(total, places.qty));
  const own = mine.get(dec(px));
  row.classList.toggle("mine", !!own);
  if (own) row.title = `my open orders here: ${own}`;
  else row.removeAttribute("title");
}

function flash(el) {
  el.classList.remove("flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("flash");
}

function renderBook() {
  const k = state.selected;
  $("#book-key").textContent = k;
  const box = $("#book");
  const entry = state.books.get(k);
  if (!entry) {
    pool = null;
    box.replaceChildren(h("div.empty", null, k ? "waiting for the book…" : "select an instrument"));
    return;
  }
  const places = placesFor(k);
  const fit = Math.max(3, Math.min(DEPTH, Math.floor((box.clientHeight - 2.5 * ROW_PX) / ROW_PX / 2)));
  const rows = ensureRows(box, fit);
  const asks = cumulative((entry.book.asks || []).slice(0, fit));
  const bids = cumulative((entry.book.bids || []).slice(0, fit));
  const maxTotal = Math.max(num(asks.length ? asks[asks.length - 1][2] : 0), num(bids.length ? bids[bids.length - 1][2] : 0), 1e-18);
  const mine = myOrders(k);
  rows.asks.forEach((row, i) => fillRow(row, asks[i], places, maxTotal, i, mine));
  rows.bids.forEach((row, i) => fillRow(row, bids[i], places, maxTotal, i, mine));
  const bestBid = bids.length ? bids[0][0] : "";
  const bestAsk = asks.length ? asks[0][0] : "";
  let spreadText = "—";
  if (bestBid && bestAsk) {
    const mid = (num(bestBid) + num(bestAsk)) / 2;
    spreadText = `spread ${fixed(sub(bestAsk, bestBid), places.px)} (${(((num(bestAsk) - num(bestBid)) / mid) * 1e4).toFixed(2)} bps)`;
  }
  setText(rows.spread, spreadText + (entry.stale ? "  STALE" : ""));
  rows.spread.classList.toggle("warn", !!entry.stale);
  rows.spread.title = `book seq ${entry.book.sequence || entry.seq || ""}`;
  if (shown === k) {
    if (bestBid !== last.bid) flash(rows.bids[0].children[1]);
    if (bestAsk !== last.ask) flash(rows.asks[0].children[1]);
  }
  shown = k;
  last = { bid: bestBid, ask: bestAsk };
  box.dataset.updates = String(Number(box.dataset.updates || 0) + 1);
  renderRefs();
}

function ref(label, value, attrs) {
  return h("div", attrs, h("label", null, label), h("span", null, value || "—"));
}

function renderRefs() {
  const k = state.selected;
  const f = state.funding.get(k);
  const entry = state.books.get(k);
  const places = placesFor(k);
  const b = entry && entry.book;
  const bid = b && b.bids && b.bids[0] ? b.bids[0][0] : "";
  const ask = b && b.asks && b.asks[0] ? b.asks[0][0] : "";
  const mid = bid && ask ? fixed(mul(add(bid, ask), "0.5"), places.px + 1) : "";
  const age = b && b.venue_ts_ms ? ago(b.venue_ts_ms) : "";
  const cells = [
    ref("mid", mid, { "data-testid": "ref-mid" }),
    ref("mark", f ? fixed(f.mark_price, places.px) : ""),
    ref("index", f ? fixed(f.index_price, places.px) : ""),
    ref("book age", age),
    ref("funding", f ? pct(f.rate) : "", { class: f && num(f.rate) < 0 ? "neg" : "pos" }),
    ref("next funding", f ? until(f.next_funding_ts_ms) : ""),
    ref("interval", f && f.interval_ms ? `${(f.interval_ms / 3600000).toFixed(0)}h` : ""),
    ref("annualised", f && f.interval_ms ? pct(num(f.rate) * ((365 * 86400000) / f.interval_ms), 2) : ""),
  ];
  $("#book-refs").replaceChildren(...cells);
}

async function loadBook(k) {
  if (!k) return;
  try {
    setBook(await api.book(k, DEPTH));
  } catch (_) {
    // no runner serves it or no book yet: the stream fills it in
  }
}

const watched = new Set();
function watch(k) {
  if (watched.has(k)) return;
  watched.add(k);
  on("book:" + k, () => {
    if (state.selected === k) renderBook();
  });
}

export function initBook() {
  document.addEventListener("instrument-selected", (e) => {
    watch(e.detail);
    renderBook();
    loadBook(e.detail);
  });
  on("book-refs", renderRefs);
  on("orders", () => renderBook()); // my orders' markers
  if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => renderBook()).observe($("#book"));
  on("funding-rates", renderRefs);
  setInterval(renderRefs, 1000); // countdowns and ages
}
