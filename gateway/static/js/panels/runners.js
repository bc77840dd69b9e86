// Runners and their health; the markets list (best bid/ask, mark, funding per instrument).

import * as api from "../api.js";
import { $, h, renderTable, toast } from "../dom.js";
import { ago, fixed, pct, placesOf } from "../fmt.js";
import { changed, on, state } from "../store.js";
import { runnerStatus } from "./header.js";

function statusCell(r) {
  const s = runnerStatus(r);
  const cls = s === "ready" ? "pos" : s === "degraded" || s === "starting" ? "warn" : "neg";
  const down = Object.entries(r.streams || {})
    .filter(([, up]) => !up)
    .map(([name]) => name);
  return h("span", { class: cls, title: [r.last_status_detail, down.length ? "down: " + down.join(", ") : ""].filter(Boolean).join("\n") || undefined }, s + (down.length ? ` (${down.length} down)` : ""));
}

function renderRunners() {
  const rows = Array.from(state.runners.values()).sort((a, b) => a.name.localeCompare(b.name));
  renderTable(
    $("#runners"),
      [
        { title: "runner", id: "name", cell: (r) => r.name },
        { title: "exch", cell: (r) => r.exchange },
        { title: "mode", cell: (r) => `${r.mode}/${r.venue}` },
        { title: "status", id: "status", cell: statusCell },
        { title: "state", id: "state", cell: (r) => ((state.tradingState.get(r.name) || {}).state || "").toUpperCase() },
        { title: "hb", num: true, help: "heartbeat age", cell: (r) => ago(r.heartbeat_ms) },
        { title: "pid", num: true, cell: (r) => r.pid || "" },
        {
          title: "",
          id: "sync",
          cell: (r) =>
            h("button.small.sync", { type: "button", disabled: !isAdmin(), title: "reconcile orders, positions and balances with the venue now (admin)", onclick: () => sync(r.name) }, "sync"),
        },
      ],
      rows,
      { rowId: (r) => r.name, empty: "no runner registered — start one: runner binance" },
  );
}

const isAdmin = () => !state.session || !state.session.role || state.session.role === "admin";

async function sync(name) {
  try {
    const r = await api.syncRunner(name);
    const cmd = r.command || r;
    toast(`sync ${name}: ${cmd.status}${cmd.error ? " — " + (cmd.error.detail || cmd.error.title) : ""}`, cmd.status === "failed" ? "err" : "ok");
  } catch (err) {
    toast(`sync ${name} failed: ${err.message}`, "err");
  }
  changed("refresh-orders");
}

/** Decimals for an instrument's prices and sizes (from its tick and step). */
export function placesFor(k) {
  const i = state.instruments.get(k);
  return i ? { px: placesOf(i.tick_size), qty: placesOf(i.step_size) } : { px: 2, qty: 4 };
}

export function selectInstrument(k) {
  if (!k || state.selected === k) return;
  state.selected = k;
  document.dispatchEvent(new CustomEvent("instrument-selected", { detail: k }));
}

function renderMarkets() {
  const keys = Array.from(state.instruments.keys()).sort();
  if (!state.selected && keys.length) selectInstrument(keys.find((k) => k.includes(":perp:")) || keys[0]);
  renderTable(
    $("#markets"),
      [
        { title: "instrument", id: "key", cls: (k) => (tradingStatus(k) === "trading" ? "" : "warn"), cell: instrumentCell },
        { title: "bid", num: true, id: "bid", cls: () => "pos", cell: (k) => best(k, "bids") },
        { title: "ask", num: true, id: "ask", cls: () => "neg", cell: (k) => best(k, "asks") },
        { title: "mark", num: true, cell: (k) => fmtPx(k, (state.funding.get(k) || {}).mark_price) },
        { title: "funding", num: true, cell: (k) => pct((state.funding.get(k) || {}).rate) },
      ],
      keys,
      { rowId: (k) => k, onRow: selectInstrument, selected: state.selected, empty: "no instruments" },
  );
}

const tradingStatus = (k) => (state.instruments.get(k) || {}).status || "trading";

function instrumentCell(k) {
  const st = tradingStatus(k);
  return st === "trading" ? k : h("span", { title: `instrument status: ${st}` }, `${k} (${st})`);
}

function fmtPx(k, v) {
  return v === undefined || v === null ? "" : fixed(v, placesFor(k).px);
}

function best(k, side) {
  const b = state.books.get(k);
  const lv = b && b.book[side] && b.book[side][0];
  return lv ? fmtPx(k, lv[0]) : "";
}

export function initRunners() {
  on("runners", renderRunners);
  on("trading-state", renderRunners);
  on("session", renderRunners);
  on("instruments", renderMarkets);
  on("markets", renderMarkets);
  on("selected", renderMarkets);
  document.addEventListener("instrument-selected", renderMarkets);
}
