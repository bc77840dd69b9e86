// Strategies from their journals: lifecycle state, pairs, edge terms, realised PnL by component,
// and the PnL-over-time chart of the selected one.

import * as api from "../api.js";
import { $, h, renderTable } from "../dom.js";
import { add, ago, dec, keyText, num, signClass, signedFixed, sub, time } from "../fmt.js";
import { LineChart } from "../chart.js";
import { on, state } from "../store.js";

// Journals keep fees and slippage as costs (total = basis + funding − fees − slippage): they are
// shown and plotted negated, so the parts add up to the total on screen too.
const COMPONENTS = [
  ["total", "--c1", 2.2, 1, "total"],
  ["basis", "--c2", 1.2, 1, "basis"],
  ["funding", "--c3", 1.2, 1, "funding"],
  ["fees", "--c4", 1.2, -1, "− fees"],
  ["slippage", "--c5", 1.2, -1, "− slippage"],
];
const SIGN = Object.fromEntries(COMPONENTS.map(([name, , , sign]) => [name, sign]));
const LABEL = Object.fromEntries(COMPONENTS.map(([name, , , , label]) => [name, label]));

/** A component as it adds to the total (costs negated). */
const part = (terms, name) => (terms && terms[name] !== undefined ? (SIGN[name] < 0 ? sub("0", terms[name]) : dec(terms[name])) : "");

let chart = null;
let selected = "";
let pairs = [];
let series = [];
let decisions = new Map(); // pair id ("" = the strategy's own) → its latest decision

const money = (v) => signedFixed(v, 4);

// Lifecycle states (strategy_client/model/lifecycle.py) in which the strategy's process runs.
const RUNNING_STATES = /^(validating|backtesting|paper_trading|active|paused)$/;

/** The lifecycle state when the journal has one (why in the tooltip; "no process" when a state
 * that needs one has none alive), else what the runs say. */
function stateCell(s) {
  const text = s.lifecycle || (s.last_run_stopped_ms ? "stopped" : "running");
  const gone = s.alive === false && RUNNING_STATES.test(s.lifecycle || "") ? " (no process)" : "";
  return h("span", { title: s.lifecycle_reason || undefined }, text + gone);
}

function stateClass(s) {
  const text = s.lifecycle || "";
  if (/failed/.test(text) || (s.alive === false && RUNNING_STATES.test(text))) return "neg";
  if (text === "active" || text === "paper_trading") return "pos";
  return /paused|validating|backtesting|ready_for_live/.test(text) ? "warn" : "";
}

function pnlCell(field) {
  return { title: LABEL[field], num: true, id: field, cls: (s) => signClass(part(s.realized, field)), cell: (s) => (s.realized ? money(part(s.realized, field)) : "") };
}

function renderStrategies() {
  const rows = state.strategies;
  if (!selected && rows.length) select(rows[0].name);
  renderTable(
    $("#strategies-table"),
    [
      { title: "strategy", id: "name", cell: (s) => s.name },
      { title: "state", id: "state", cls: stateClass, cell: stateCell },
      { title: "mode", cell: (s) => s.mode || "" },
      { title: "pairs", num: true, help: "open / closed", cell: (s) => `${s.open_pairs}/${s.closed_pairs}` },
      pnlCell("basis"),
      pnlCell("funding"),
      pnlCell("fees"),
      pnlCell("slippage"),
      pnlCell("total"),
      { title: "last run", cell: (s) => (s.last_run_started_ms ? ago(s.last_run_started_ms) + " ago" : "") },
    ],
    rows,
    { rowId: (s) => s.name, onRow: (s) => select(s.name), selected, empty: "no strategy journal found (run: strategy spotperp --paper)" },
  );
  renderTable(
    $("#pairs-table"),
    [
      { title: "pair", cell: (p) => p.pair_id || p.id || "" },
      { title: "legs", cell: legsCell },
      { title: "phase", id: "phase", cell: (p) => p.phase + (p.closed ? " (closed)" : "") },
      { title: "last decision", id: "decision", cell: (p) => decisionText(decisions.get(p.pair_id)) },
      { title: "edge terms", id: "terms", cell: (p) => termsText(p.terms || (decisions.get(p.pair_id) || {}).terms) },
      {
        title: "realised",
        num: true,
        id: "total",
        cls: (p) => signClass(part(realised(p), "total")),
        cell: (p) =>
          h(
            "span",
            { title: COMPONENTS.map(([name]) => `${LABEL[name]} ${money(part(realised(p), name))}`).join("\n") },
            money(part(realised(p), "total")),
          ),
      },
    ],
    pairs,
    { rowId: (p) => p.pair_id || p.id, empty: "" },
  );
  // the strategy's own latest decision (one about no pair: a skipped entry and why)
  const own = decisions.get("");
  $("#strategy-decision").textContent = own
    ? `last decision: ${own.action} at ${time(own.ts_ms)}${own.reason ? " — " + own.reason : ""}${own.terms ? "  " + termsText(own.terms) : ""}`
    : "";
}

/** A pair's realised components: nested (PairState.realized) or flat (PnL rows). */
const realised = (p) => p.realized || p;

/** "binance spot:BTCUSDT / perp:BTCUSDT" (the exchange once when both legs share it). */
function legsCell(p) {
  const legs = [p.leg_a, p.leg_b].map(keyText).filter(Boolean);
  const exchanges = new Set(legs.map((k) => k.split(":")[0]));
  const short = exchanges.size === 1 ? `${[...exchanges][0]} ${legs.map((k) => k.split(":").slice(1).join(":")).join(" / ")}` : legs.join(" / ");
  return h("span", { title: legs.join(" / ") }, short);
}

/** Each pair's latest decision (DecisionRow: ts_ms, action, reason, terms). */
function latestDecisions(rows) {
  const out = new Map();
  for (const r of rows) {
    const prev = out.get(r.pair_id || "");
    if (!prev || (r.ts_ms || 0) >= (prev.ts_ms || 0)) out.set(r.pair_id || "", r);
  }
  return out;
}

function decisionText(d) {
  if (!d) return "";
  return h("span", { title: [d.reason, d.detail].filter(Boolean).join("\n") || undefined }, `${d.action} ${time(d.ts_ms)}`);
}

function termsText(terms) {
  if (!terms || typeof terms !== "object") return "";
  return Object.entries(terms)
    .map(([k, v]) => `${k} ${dec(v)}`)
    .join("  ");
}

const DAY_MS = 86400000;

/** PnL rows → the chart. Rows with `ts_ms` (a time series of cumulative components) are lines,
 * one per component. Rows with `day` (realised PnL by UTC day, per pair) are each day's parts as
 * stacked bars (basis and funding up, fees and slippage down when they cost) under the running
 * total as a line. Decimals are summed exactly; only the plotted values are numbers. */
export function pnlChart(rows) {
  const empty = { series: COMPONENTS.map(([name, color, width]) => ({ name: LABEL[name], color, width, points: [] })), opts: {}, mode: "" };
  if (!Array.isArray(rows) || rows.length === 0) return empty;
  if (rows[0].ts_ms !== undefined) {
    const sorted = rows.slice().sort((a, b) => a.ts_ms - b.ts_ms);
    const series = COMPONENTS.map(([name, color, width]) => ({
      name: LABEL[name],
      color,
      width,
      points: sorted.map((r) => [r.ts_ms, num(part(r, name))]),
    }));
    return { series, opts: {}, mode: "points" };
  }
  const byDay = new Map();
  for (const r of rows) {
    const d = byDay.get(r.day) || Object.fromEntries(COMPONENTS.map(([name]) => [name, "0"]));
    for (const [name] of COMPONENTS) d[name] = add(d[name], r[name] || "0");
    byDay.set(r.day, d);
  }
  const days = Array.from(byDay.keys()).sort();
  const mid = (day) => Date.parse(day + "T00:00:00Z") + DAY_MS / 2;
  let running = "0";
  const total = [[Date.parse(days[0] + "T00:00:00Z"), 0]]; // from zero at the first day's start
  for (const day of days) {
    running = add(running, byDay.get(day).total);
    total.push([mid(day), num(running)]);
  }
  const [, totalColour, totalWidth] = COMPONENTS[0];
  const series = [
    { name: "total (running)", color: totalColour, width: totalWidth, points: total, hold: false },
    ...COMPONENTS.slice(1).map(([name, color]) => ({
      name: LABEL[name] + " (day)",
      color,
      type: "bar",
      points: days.map((day) => [mid(day), num(part(byDay.get(day), name))]),
    })),
  ];
  return { series, opts: { barMs: DAY_MS, days: true }, mode: "days" };
}

function drawChart() {
  if (!chart) return;
  const { series: lines, opts, mode } = pnlChart(series);
  chart.setSeries(lines, selected ? `no PnL history for ${selected} yet` : "no strategy selected", opts);
  const how = mode === "days" ? "realised PnL by UTC day (bars) and running total" : "realised PnL over time";
  $("#chart-title").textContent = selected ? `${selected} — ${how}` : "PnL over time";
  $("#chart-legend").replaceChildren(
    ...COMPONENTS.map(([name, color]) => h("span", null, h("i", { style: `background:var(${color})` }), LABEL[name])),
  );
}

async function loadSelected() {
  if (!selected) return;
  const name = selected;
  const [p, s, d] = await Promise.allSettled([api.strategyPairs(name), api.strategyPnl(name), api.strategyDecisions(name)]);
  if (name !== selected) return;
  pairs = p.status === "fulfilled" && Array.isArray(p.value) ? p.value : pairs;
  if (d.status === "fulfilled" && Array.isArray(d.value)) decisions = latestDecisions(d.value);
  if (s.status === "fulfilled") {
    const v = s.value;
    series = Array.isArray(v) ? v : (v && (v.points || v.days || v.rows)) || [];
  }
  renderStrategies();
  drawChart();
}

function select(name) {
  if (selected === name) return;
  selected = name;
  pairs = [];
  series = [];
  decisions = new Map();
  drawChart();
  loadSelected();
}

export function initStrategies() {
  chart = new LineChart($("#pnl-chart"));
  on("strategies", renderStrategies);
  on("theme", drawChart);
  setInterval(() => state.session && loadSelected(), 10000); // signed in only
  drawChart();
  renderStrategies();
}
