// The order ticket: instrument, side, type, qty, price, TIF and reduce-only. Every change asks
// the gateway for a preview (the order fitted to the instrument's filters and the risk verdict);
// "send" is enabled only for an order the preview says is valid and the risk gate passes.

import * as api from "../api.js";
import { $, h, toast } from "../dom.js";
import { dec, isZero, keyText } from "../fmt.js";
import { changed, on, state } from "../store.js";
import { selectInstrument } from "./runners.js";

const t = { key: "", side: "buy", type: "limit", qty: "", price: "", tif: "gtc", reduce_only: false };
let previewSeq = 0;
let lastPreview = null; // {ticket JSON, result | error}
let timer = null;
let sending = false;

const TIFS = [
  ["gtc", "GTC"],
  ["ioc", "IOC"],
  ["fok", "FOK"],
  ["post_only", "Post-only"],
];

function seg(name, options, current, cls) {
  return h(
    "div.seg",
    { role: "group", "aria-label": name },
    options.map(([value, label]) =>
      h("button", { type: "button", class: cls, "aria-pressed": String(value === current), dataset: { [name]: value }, onclick: () => set(name, value) }, label),
    ),
  );
}

function set(field, value) {
  t[field] = value;
  if (field === "type" && value === "market" && t.tif === "post_only") t.tif = "gtc";
  if (field === "key") selectInstrument(value);
  build();
  schedulePreview();
}

function instrumentSelect() {
  const sel = h("select", { id: "ticket-key", name: "key" });
  for (const k of Array.from(state.instruments.keys()).sort()) sel.append(h("option", { value: k, selected: k === t.key }, k));
  sel.addEventListener("change", () => set("key", sel.value));
  return sel;
}

function input(id, field, placeholder, disabled) {
  const value = disabled ? "" : t[field]; // a market order's price field shows "market", not a stale price
  const el = h("input", { id, name: field, inputmode: "decimal", placeholder, value, disabled, spellcheck: "false" });
  el.addEventListener("input", () => {
    t[field] = el.value.trim();
    schedulePreview();
  });
  return el;
}

function build() {
  const form = $("#ticket");
  const market = t.type === "market";
  const tif = h("select", { id: "ticket-tif", name: "tif" });
  for (const [v, label] of TIFS) if (!(market && v === "post_only")) tif.append(h("option", { value: v, selected: v === t.tif }, label));
  tif.addEventListener("change", () => set("tif", tif.value));
  const reduce = h("input", { id: "ticket-reduce", type: "checkbox", checked: t.reduce_only });
  reduce.addEventListener("change", () => set("reduce_only", reduce.checked));
  form.replaceChildren(
    h("label", { for: "ticket-key" }, "instrument"),
    instrumentSelect(),
    h("div.full.muted.filters", { id: "ticket-filters" }, filtersText()),
    h("label", null, "side"),
    seg("side", [["buy", "Buy"], ["sell", "Sell"]], t.side, ""),
    h("label", null, "type"),
    seg("type", [["limit", "Limit"], ["market", "Market"]], t.type, "t"),
    h("label", { for: "ticket-qty" }, "quantity"),
    input("ticket-qty", "qty", "0.001"),
    h("label", { for: "ticket-price" }, "price"),
    input("ticket-price", "price", market ? "market" : "limit price", market),
    h("label", { for: "ticket-tif" }, "time in force"),
    tif,
    h("label", null, "flags"),
    h("div.flags", null, h("label", null, reduce, "reduce-only")),
    h("div.full.preview", { id: "ticket-preview", "aria-live": "polite" }),
    h("button.full", { id: "ticket-submit", type: "submit", class: t.side === "buy" ? "buy" : "sell", disabled: true }, submitLabel()),
  );
  for (const b of form.querySelectorAll('.seg button[data-side]')) b.className = b.dataset.side === "buy" ? "b" : "s";
  renderPreview();
}

/** The instrument's filters the preview fits the order to. */
function filtersText() {
  const i = state.instruments.get(t.key);
  if (!i) return "";
  const parts = [`tick ${dec(i.tick_size)}`, `step ${dec(i.step_size)}`, `min ${dec(i.min_qty)}`];
  if (i.min_notional && !isZero(i.min_notional)) parts.push(`min notional ${dec(i.min_notional)}`);
  if (i.contract_size && dec(i.contract_size) !== "1") parts.push(`contract ${dec(i.contract_size)}`);
  return parts.join(" · ");
}

/** "Buy 0.012 BTCUSDT perp @ 49000": the ticket as typed, or as the preview fitted it. */
function submitLabel(qty = t.qty, price = t.price) {
  const [, kind = "", sym = ""] = t.key ? t.key.split(":") : [];
  const px = t.type === "market" ? "MKT" : price || "?";
  return `${t.side === "buy" ? "Buy" : "Sell"} ${qty || "?"} ${sym} ${kind} @ ${px}`;
}

function ready() {
  return t.key && t.qty && (t.type === "market" || t.price);
}

function schedulePreview() {
  clearTimeout(timer);
  const btn = $("#ticket-submit");
  if (btn) {
    btn.textContent = submitLabel();
    btn.disabled = true;
  }
  if (!ready()) {
    lastPreview = null;
    renderPreview();
    return;
  }
  timer = setTimeout(runPreview, 200);
}

async function runPreview() {
  const seq = ++previewSeq;
  const asked = JSON.stringify(api.orderTicket(t));
  let result = null;
  let error = null;
  try {
    result = await api.preview(t);
  } catch (err) {
    error = err;
  }
  if (seq !== previewSeq) return; // a newer preview is on its way
  lastPreview = { asked, result, error };
  renderPreview();
}

function renderPreview() {
  const box = $("#ticket-preview");
  const btn = $("#ticket-submit");
  if (!box || !btn) return;
  if (!lastPreview) {
    box.replaceChildren(h("span.muted", null, ready() ? "checking…" : "enter quantity and price to preview"));
    btn.disabled = true;
    return;
  }
  const { result: p, error } = lastPreview;
  if (error) {
    box.replaceChildren(h("div.verdict.refused", { dataset: { verdict: "error" } }, `✗ ${error.message}`));
    btn.disabled = true;
    return;
  }
  const o = p.order || {};
  const rows = [
    ["runner", p.runner],
    ["qty sent", dec(o.qty)],
    ["price sent", o.price === null || o.price === undefined ? "market" : dec(o.price)],
    ["reference", dec(p.reference)],
    ["notional", dec(p.notional)],
  ];
  const dl = h("dl", null, rows.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v || "—")]));
  const changes = (p.changes || []).map((c) => h("div.warn", { dataset: { change: c.field } }, `${c.field} ${dec(c.asked)} → ${dec(c.fitted)} (${c.why})`));
  const r = p.risk || {};
  let verdict;
  if (!p.valid) verdict = h("div.verdict.refused", { dataset: { verdict: "invalid" } }, `✗ ${p.problem || "does not fit the instrument's filters"}`);
  else if (r.checked === false) verdict = h("div.verdict.warn", { dataset: { verdict: "unchecked" } }, `? risk not checked${r.message ? ": " + r.message : ""}`);
  else if (r.ok) verdict = h("div.verdict.ok", { dataset: { verdict: "ok" } }, `✓ risk OK${r.state ? " · " + r.state.toUpperCase() : ""}`);
  else verdict = h("div.verdict.refused", { dataset: { verdict: "refused" } }, `✗ risk: ${r.limit || r.state || "refused"}${r.message ? " — " + r.message : ""}`);
  box.replaceChildren(dl, ...changes, verdict);
  if (p.valid && o.qty !== undefined) btn.textContent = submitLabel(dec(o.qty), o.price === null || o.price === undefined ? "" : dec(o.price));
  const role = state.session ? state.session.role : "trade";
  btn.disabled = sending || !p.valid || r.ok === false || role === "read";
  btn.title = role === "read" ? "a read-only key cannot trade" : "";
}

async function submit(ev) {
  ev.preventDefault();
  if (sending || !lastPreview || !lastPreview.result) return;
  if (lastPreview.asked !== JSON.stringify(api.orderTicket(t))) return; // the preview is out of date
  sending = true;
  const btn = $("#ticket-submit");
  btn.disabled = true;
  const idem = api.newIdempotencyKey();
  try {
    const r = await api.submitOrder(t, idem);
    const cmd = r.command || r;
    if (cmd.status === "failed") toast(`order refused: ${(cmd.error && (cmd.error.detail || cmd.error.title)) || "failed"}`, "err");
    else if (cmd.status === "unknown") toast(`order outcome unknown (${cmd.client_id}): watch open orders`, "err");
    else {
      const o = api.orderOf(cmd.result);
      toast(`${t.side} ${t.qty} ${t.key}: ${o ? o.status : cmd.status} (${cmd.client_id})`, "ok");
      if (o) document.dispatchEvent(new CustomEvent("order-update", { detail: o }));
    }
  } catch (err) {
    toast(`order not sent: ${err.message}`, "err");
  } finally {
    sending = false;
    renderPreview();
    changed("refresh-orders");
  }
}

export function initTicket() {
  $("#ticket").addEventListener("submit", submit);
  on("instruments", () => {
    if (!t.key && state.selected) t.key = state.selected;
    build();
  });
  on("session", renderPreview);
  // the verdict depends on the runner's trading state and the reference price: ask again when the
  // state changes, and every few seconds while a complete ticket sits there
  let states = "";
  on("trading-state", () => {
    const now = JSON.stringify(Array.from(state.tradingState));
    if (now === states) return;
    states = now;
    if (ready()) runPreview();
  });
  setInterval(() => {
    if (state.session && ready() && !sending && document.visibilityState === "visible") runPreview();
  }, 5000);
  document.addEventListener("instrument-selected", (e) => {
    if (t.key === e.detail) return;
    t.key = e.detail;
    lastPreview = null;
    build();
    schedulePreview();
  });
  // a click on a position: a reduce-only market order that closes it
  document.addEventListener("ticket-close", (e) => {
    const p = e.detail;
    const size = dec(p.size);
    Object.assign(t, { key: keyText(p.key), side: size.startsWith("-") ? "buy" : "sell", type: "market", qty: size.replace(/^-/, ""), reduce_only: true });
    if (t.tif === "post_only") t.tif = "gtc";
    selectInstrument(t.key);
    lastPreview = null;
    build();
    schedulePreview();
  });
  document.addEventListener("ticket-price", (e) => {
    if (t.type === "market") t.type = "limit";
    t.price = dec(e.detail);
    build();
    schedulePreview();
  });
  build();
}
