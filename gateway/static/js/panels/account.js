// The account tabs: positions (mark, unrealised PnL), open orders (cancel), fills, order
// history, balances, funding payments.

import * as api from "../api.js";
import { $, $$, confirmDialog, h, renderTable, toast } from "../dom.js";
import { dateTime, dec, fixed, isZero, keyText, mul, pct, signClass, signed, signedFixed, sub, time } from "../fmt.js";
import { changed, on, orderId, state } from "../store.js";
import { placesFor } from "./runners.js";

const side = (r) => (r.side === "buy" ? "side-buy" : "side-sell");
const px = (k, v) => (v === null || v === undefined || v === "" ? "" : fixed(v, placesFor(keyText(k)).px));

/** The mark a position is valued at: the live funding mark when there is one, else its own. */
function markOf(p) {
  const f = state.funding.get(keyText(p.key));
  return f && f.mark_price && !isZero(f.mark_price) ? f.mark_price : p.mark_price;
}

/** Unrealised PnL at the live mark (exact): size × (mark − entry) × contract size. */
export function unrealised(p) {
  const mark = markOf(p);
  if (!mark || isZero(mark)) return dec(p.unrealized_pnl);
  const inst = state.instruments.get(keyText(p.key));
  const cs = inst && inst.contract_size ? inst.contract_size : "1";
  return mul(mul(p.size, sub(mark, p.entry_price)), cs);
}

function renderPositions() {
  const rows = Array.from(state.positions.values()).filter((p) => !isZero(p.size));
  $("#n-positions").textContent = rows.length ? String(rows.length) : "";
  renderTable(
    $("#positions"),
      [
        { title: "instrument", cell: (p) => h("span", { title: "click: a ticket that closes it (reduce-only market)" }, keyText(p.key)) },
        { title: "size", num: true, id: "size", cls: (p) => signClass(p.size), cell: (p) => signed(p.size) },
        { title: "entry", num: true, cell: (p) => px(p.key, p.entry_price) },
        { title: "mark", num: true, id: "mark", cell: (p) => px(p.key, markOf(p)) },
        { title: "unrealised PnL", num: true, id: "upnl", cls: (p) => signClass(unrealised(p)), cell: (p) => signedFixed(unrealised(p), 4) },
        { title: "liq.", num: true, cell: (p) => (isZero(p.liquidation_price) ? "" : px(p.key, p.liquidation_price)) },
        { title: "lev", num: true, cell: (p) => (p.leverage ? `${p.leverage}×` : "") },
        { title: "margin", cell: (p) => p.margin_mode || "" },
        { title: "updated", cell: (p) => time(p.updated_ts_ms) },
      ],
      rows,
      { rowId: (p) => keyText(p.key), empty: "no open position", onRow: (p) => document.dispatchEvent(new CustomEvent("ticket-close", { detail: p })) },
  );
}

/** A long id as "gwcc25a7d3…4bddd" (the whole id in its tooltip). */
function shortId(id) {
  return h("span", { title: id }, id && id.length > 18 ? `${id.slice(0, 10)}…${id.slice(-5)}` : id || "");
}

async function cancel(o) {
  const id = orderId(o);
  const row = document.querySelector(`#orders tr[data-row-id="${CSS.escape(id)}"]`);
  if (row) row.querySelector("button.cancel").disabled = true;
  try {
    const r = await api.cancelOrder(keyText(o.key), { client_id: o.client_id, venue_id: o.venue_id });
    const cmd = r.command || r;
    if (cmd.status === "failed") toast(`cancel refused: ${(cmd.error && cmd.error.detail) || "failed"}`, "err");
    else {
      const done = api.orderOf(cmd.result);
      toast(`cancel ${o.client_id || o.venue_id}: ${done ? done.status : cmd.status}`, "ok");
      if (done) document.dispatchEvent(new CustomEvent("order-update", { detail: done }));
    }
  } catch (err) {
    toast(`cancel failed: ${err.message}`, "err");
  }
  changed("refresh-orders");
}

async function cancelAll() {
  const n = state.orders.size;
  if (!n) return;
  if (!(await confirmDialog("Cancel all", `Cancel all ${n} open orders on every runner?`, "Cancel all"))) return;
  try {
    const r = await api.cancelAll({});
    const cmd = r.command || r;
    toast(`cancel all: ${cmd.status}`, cmd.status === "failed" ? "err" : "ok");
  } catch (err) {
    toast(`cancel all failed: ${err.message}`, "err");
  }
  changed("refresh-orders");
}

function renderOrders() {
  const rows = Array.from(state.orders.values()).sort((a, b) => (b.created_ts_ms || 0) - (a.created_ts_ms || 0));
  $("#n-orders").textContent = rows.length ? String(rows.length) : "";
  const canTrade = !state.session || state.session.role !== "read";
  renderTable(
    $("#orders-table"),
    [
      { title: "time", cell: (o) => time(o.created_ts_ms) },
      { title: "instrument", cell: (o) => keyText(o.key) },
      { title: "side", cls: side, cell: (o) => o.side.toUpperCase() },
      { title: "type", cell: (o) => `${o.type}${o.tif && o.tif !== "gtc" ? " " + o.tif.toUpperCase() : ""}${o.reduce_only ? " RO" : ""}` },
      { title: "price", num: true, id: "price", cell: (o) => px(o.key, o.price) },
      { title: "qty", num: true, id: "qty", cell: (o) => dec(o.qty) },
      { title: "filled", num: true, cell: (o) => dec(o.filled_qty) },
      { title: "status", id: "status", cls: (o) => (o.status === "unknown" ? "warn" : ""), cell: (o) => o.status },
      { title: "client id", cell: (o) => shortId(o.client_id || o.venue_id) },
      {
        title: "",
        cell: (o) => h("button.small.cancel", { type: "button", disabled: !canTrade, title: "cancel this order", onclick: () => cancel(o) }, "cancel"),
      },
    ],
    rows,
    { rowId: orderId, empty: "no open order" },
  );
  $("#cancel-all").hidden = !rows.length;
  $("#cancel-all").disabled = !canTrade;
}

function renderFills() {
  renderTable(
    $("#fills"),
      [
        { title: "time", cell: (f) => dateTime(f.ts_ms) },
        { title: "instrument", cell: (f) => keyText(f.key) },
        { title: "side", cls: side, cell: (f) => f.side.toUpperCase() },
        { title: "price", num: true, cell: (f) => px(f.key, f.price) },
        { title: "qty", num: true, cell: (f) => dec(f.qty) },
        { title: "fee", num: true, cell: (f) => `${dec(f.fee)} ${f.fee_asset || ""}` },
        { title: "liq.", cell: (f) => (f.is_maker ? "maker" : "taker") },
        { title: "realised", num: true, cls: (f) => signClass(f.realized_pnl), cell: (f) => signed(f.realized_pnl) },
        { title: "client id", cell: (f) => shortId(f.client_id) },
        { title: "runner", cell: (f) => f.stream || "" },
      ],
      state.fills,
      { rowId: (f) => `${keyText(f.key)}|${f.trade_id}`, empty: "no fill yet" },
  );
}

function renderHistory() {
  renderTable(
    $("#history"),
      [
        { title: "updated", cell: (o) => dateTime(o.updated_ts_ms) },
        { title: "instrument", cell: (o) => keyText(o.key) },
        { title: "side", cls: side, cell: (o) => String(o.side).toUpperCase() },
        { title: "type", cell: (o) => `${o.type}${o.tif && o.tif !== "gtc" ? " " + String(o.tif).toUpperCase() : ""}` },
        { title: "price", num: true, cell: (o) => px(o.key, o.price) },
        { title: "qty", num: true, cell: (o) => dec(o.qty) },
        { title: "filled", num: true, cell: (o) => dec(o.filled_qty) },
        { title: "avg", num: true, cell: (o) => px(o.key, o.avg_price) },
        { title: "status", id: "status", cls: (o) => (o.status === "rejected" ? "neg" : ""), cell: (o) => o.status },
        { title: "reason", cell: (o) => o.reject_reason || o.reject_code || "" },
        { title: "client id", cell: (o) => shortId(o.client_id) },
      ],
      state.history,
      { rowId: (o) => `${keyText(o.key)}|${o.client_id || o.venue_id}`, empty: "no order history" },
  );
}

function renderBalances() {
  const rows = [];
  for (const [runner, acct] of state.balances) {
    for (const b of acct.balances || []) if (!isZero(b.free) || !isZero(b.locked)) rows.push({ runner, wallet: "spot", asset: b.asset, a: b.free, b: b.locked, c: "", d: "" });
    for (const m of acct.margin || []) rows.push({ runner, wallet: "margin", asset: m.asset, a: m.wallet_balance, b: m.initial_margin, c: m.unrealized_pnl, d: m.available_balance });
  }
  renderTable(
    $("#balances"),
      [
        { title: "runner", cell: (r) => r.runner },
        { title: "wallet", cell: (r) => r.wallet },
        { title: "asset", cell: (r) => r.asset },
        { title: "free / wallet", num: true, cell: (r) => dec(r.a) },
        { title: "locked / init. margin", num: true, cell: (r) => dec(r.b) },
        { title: "unrealised", num: true, cls: (r) => signClass(r.c), cell: (r) => signed(r.c) },
        { title: "available", num: true, cell: (r) => dec(r.d) },
      ],
      rows,
      { rowId: (r) => `${r.runner}|${r.wallet}|${r.asset}`, empty: "no balance" },
  );
}

function renderFunding() {
  renderTable(
    $("#funding"),
      [
        { title: "time", cell: (f) => dateTime(f.ts_ms) },
        { title: "instrument", cell: (f) => keyText(f.key) },
        { title: "rate", num: true, cell: (f) => pct(f.rate) },
        { title: "amount", num: true, cls: (f) => signClass(f.amount), cell: (f) => `${signed(f.amount)} ${f.asset || ""}` },
        { title: "runner", cell: (f) => f.stream || "" },
      ],
      state.fundingPayments,
      { empty: "no funding payment yet" },
  );
}

/** A decimal or "—" for a missing (null) value. */
const opt = (v) => (v === null || v === undefined ? "—" : dec(v));

function renderRisk() {
  const rows = Array.from(state.risk, ([runner, r]) => ({ runner, ...r }));
  renderTable(
    $("#risk-runners"),
    [
      { title: "runner", cell: (r) => r.runner },
      { title: "state", id: "state", cls: (r) => (r.state === "active" ? "pos" : r.state === "halted" ? "neg" : "warn"), cell: (r) => String(r.state || "").toUpperCase() },
      { title: "reason", cell: (r) => r.state_reason || "" },
      { title: "day realised", num: true, cls: (r) => signClass(r.day_realized_pnl), cell: (r) => signed(r.day_realized_pnl) },
      { title: "equity", num: true, cell: (r) => opt(r.equity) },
      { title: "high-water", num: true, cell: (r) => opt(r.high_water_mark) },
      { title: "gross exposure", num: true, cell: (r) => opt(r.gross_exposure) },
      { title: "orders / pos.", num: true, cell: (r) => `${r.open_orders}/${r.open_positions}` },
      { title: "orders/min", num: true, cell: (r) => r.orders_last_minute },
      { title: "checked", num: true, cell: (r) => r.checked },
      {
        title: "refused",
        num: true,
        help: "orders the gate refused, by limit",
        cell: (r) => {
          const by = Object.entries(r.refused || {});
          const n = by.reduce((a, [, c]) => a + c, 0);
          return h("span", { title: by.map(([k, c]) => `${k}: ${c}`).join("\n") || undefined, class: n ? "warn" : undefined }, String(n));
        },
      },
      { title: "limits", cell: (r) => (r.enabled ? "on" : "off") },
    ],
    rows,
    { rowId: (r) => r.runner, empty: "no risk status (runners without a risk gate answer nothing here)" },
  );
  const inst = rows.flatMap((r) => (r.instruments || []).map((i) => ({ runner: r.runner, ...i })));
  renderTable(
    $("#risk-instruments"),
    [
      { title: "instrument", cell: (i) => keyText(i.key) },
      { title: "position", num: true, cls: (i) => signClass(i.position), cell: (i) => signed(i.position) },
      { title: "open buy", num: true, cell: (i) => dec(i.open_buy_qty) },
      { title: "open sell", num: true, cell: (i) => dec(i.open_sell_qty) },
      { title: "reference", num: true, cell: (i) => px(i.key, i.reference_price) },
      { title: "worst exposure", num: true, cell: (i) => opt(i.exposure) },
      { title: "max qty", num: true, cell: (i) => opt(i.limits && i.limits.max_position_qty) },
      { title: "max notional", num: true, cell: (i) => opt(i.limits && i.limits.max_position_notional) },
      { title: "collar", num: true, cell: (i) => (i.limits && i.limits.price_collar ? pct(i.limits.price_collar, 2) : "—") },
    ],
    inst,
    { rowId: (i) => `${i.runner}|${keyText(i.key)}`, empty: "" },
  );
}

const COMMAND_CLASS = { succeeded: "pos", failed: "neg", unknown: "warn", running: "warn", accepted: "warn" };

/** What a command was about, in a few words ("buy 0.003 binance:perp:BTCUSDT @ 58000"). */
function commandWhat(c) {
  const r = c.request || {};
  if (r.side) return `${r.side} ${dec(r.qty)} ${r.key}${r.price ? " @ " + dec(r.price) : ""}${r.reduce_only ? " RO" : ""}`;
  if (r.client_id || r.venue_id) return `${r.key} ${r.client_id || r.venue_id}`;
  if (r.state) return `${r.state}${r.reason ? " — " + r.reason : ""}`;
  return r.reason || r.key || r.runner || "";
}

function renderCommands() {
  renderTable(
    $("#commands"),
    [
      { title: "time", cell: (c) => time(c.created_ms) },
      { title: "command", id: "kind", cell: (c) => c.kind },
      { title: "what", cell: commandWhat },
      { title: "status", id: "status", cls: (c) => COMMAND_CLASS[c.status] || "", cell: (c) => c.status },
      { title: "error", cell: (c) => (c.error ? c.error.detail || c.error.title : "") },
      { title: "ms", num: true, help: "accepted → last update", cell: (c) => (c.updated_ms && c.created_ms ? c.updated_ms - c.created_ms : "") },
      { title: "key", cell: (c) => c.key_id },
      { title: "id", cell: (c) => shortId(c.id) },
    ],
    state.commands,
    { rowId: (c) => c.id, empty: "no command yet" },
  );
}

function selectTab(name) {
  for (const b of $$("#account-tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const p of $$(".p-account [data-pane]")) p.hidden = p.dataset.pane !== name;
}

export function initAccount() {
  for (const b of $$("#account-tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  $("#orders").replaceChildren(
    h("div.row.tools", null, h("button.small", { type: "button", id: "cancel-all", hidden: true, onclick: cancelAll }, "cancel all")),
    h("div", { id: "orders-table" }),
  );
  on("positions", renderPositions);
  on("funding-rates", renderPositions);
  on("orders", renderOrders);
  on("session", renderOrders);
  on("fills", renderFills);
  on("history", renderHistory);
  on("balances", renderBalances);
  on("funding-payments", renderFunding);
  on("risk", renderRisk);
  on("commands", renderCommands);
  renderPositions();
  renderOrders();
  renderFills();
  renderHistory();
  renderBalances();
  renderFunding();
  renderRisk();
  renderCommands();
}

export { selectTab };
