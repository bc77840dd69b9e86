// The book ladder of the selected instrument, and its reference prices and funding.

import * as api from "../api.js";
import { $, h } from "../dom.js";
import { add, ago, fixed, mul, num, pct, sub, until } from "../fmt.js";
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

function levelRow(side, [px, qty, total], places, maxTotal, level) {
  const bar = h("span.bar", { style: `width:${Math.min(100, (num(total) / maxTotal) * 100).toFixed(1)}%` });
  const row = h(
    "div.lv",
    { class: side, dataset: { side, level: String(level), price: px } },
    bar,
    h("span.px", null, fixed(px, places.px)),
    h("span.qty", null, fixed(qty, places.qty)),
    h("span.tot", null, fixed(total, places.qty)),
  );
  row.addEventListener("click", () => document.dispatchEvent(new CustomEvent("ticket-price", { detail: px })));
  return row;
}

function renderBook() {
  const k = state.selected;
  $("#book-key").textContent = k;
  const box = $("#book");
  const entry = state.books.get(k);
  if (!entry) {
    box.replaceChildren(h("div.empty", null, k ? "waiting for the book…" : "select an instrument"));
    return;
  }
  const places = placesFor(k);
  const fit = Math.max(3, Math.min(DEPTH, Math.floor((box.clientHeight - 2.5 * ROW_PX) / ROW_PX / 2)));
  const asks = cumulative((entry.book.asks || []).slice(0, fit));
  const bids = cumulative((entry.book.bids || []).slice(0, fit));
  const maxTotal = Math.max(num(asks.length ? asks[asks.length - 1][2] : 0), num(bids.length ? bids[bids.length - 1][2] : 0), 1e-18);
  const head = h("div.lv.head", null, h("span", null, "price"), h("span", null, "size"), h("span", null, "total"));
  const askRows = asks.map((lv, i) => levelRow("ask", lv, places, maxTotal, i)).reverse();
  const bidRows = bids.map((lv, i) => levelRow("bid", lv, places, maxTotal, i));
  const bestBid = bids.length ? bids[0][0] : "";
  const bestAsk = asks.length ? asks[0][0] : "";
  let spreadText = "—";
  if (bestBid && bestAsk) {
    const mid = (num(bestBid) + num(bestAsk)) / 2;
    spreadText = `spread ${fixed(sub(bestAsk, bestBid), places.px)} (${(((num(bestAsk) - num(bestBid)) / mid) * 1e4).toFixed(2)} bps)`;
  }
  const spread = h(
    "div.spread",
    { title: `book seq ${entry.book.sequence || entry.seq || ""}` },
    spreadText,
    entry.stale ? h("span.warn", null, "  STALE") : null,
  );
  box.replaceChildren(head, ...askRows, spread, ...bidRows);
  // the best levels carry test ids; a changed best price flashes
  const bidEl = bidRows[0];
  const askEl = askRows[askRows.length - 1];
  if (bidEl) bidEl.querySelector(".px").dataset.testid = "book-best-bid";
  if (askEl) askEl.querySelector(".px").dataset.testid = "book-best-ask";
  if (shown === k) {
    if (bidEl && bestBid !== last.bid) bidEl.querySelector(".px").classList.add("flash");
    if (askEl && bestAsk !== last.ask) askEl.querySelector(".px").classList.add("flash");
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
  if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => renderBook()).observe($("#book"));
  on("funding-rates", renderRefs);
  setInterval(renderRefs, 1000); // countdowns and ages
}
