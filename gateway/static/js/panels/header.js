// The top bar: stream state, runner chips, trading state, theme, log out, the kill switch.

import * as api from "../api.js";
import { $, confirmDialog, h, toast } from "../dom.js";
import { ago } from "../fmt.js";
import { changed, on, state } from "../store.js";

const STATE_ORDER = ["halted", "reducing", "active"];

export function runnerStatus(r) {
  if (r.unlisted) return "dead";
  return r.last_status || r.status || "unknown";
}

function renderChips() {
  const chips = Array.from(state.runners.values()).map((r) =>
    h("span.chip", { dataset: { status: runnerStatus(r) }, title: `${r.exchange} ${r.mode}/${r.venue} — ${runnerStatus(r)}, heartbeat ${ago(r.heartbeat_ms)} ago` }, r.name),
  );
  $("#runner-chips").replaceChildren(...chips);
}

/** The worst state across runners (HALTED beats REDUCING beats ACTIVE). */
export function overallState() {
  let worst = "";
  for (const t of state.tradingState.values()) {
    if (!t.state) continue;
    if (!worst || STATE_ORDER.indexOf(t.state) < STATE_ORDER.indexOf(worst)) worst = t.state;
  }
  return worst;
}

function renderTradingState() {
  const el = $("#trading-state");
  const worst = overallState();
  el.dataset.state = worst || "";
  el.textContent = worst ? worst.toUpperCase() : "—";
  el.title = Array.from(state.tradingState, ([r, t]) => `${r}: ${t.state || t.error || "?"}${t.reason ? " (" + t.reason + ")" : ""}`).join("\n") || "trading state";
}

function renderConn() {
  const el = $("#conn");
  el.dataset.state = state.stream.state;
  $("#conn-text").textContent = { live: "live", connecting: "connecting", down: "reconnecting", closed: "offline", idle: "offline" }[state.stream.state] || state.stream.state;
  const dropped = state.stream.dropped ? `\n${state.stream.dropped} market-data messages dropped (slow reader)` : "";
  el.title = (state.stream.detail || "live stream") + dropped;
}

function renderWho() {
  const s = state.session;
  $("#whoami").textContent = s ? `${s.label || s.key_id} · ${s.role}` : "";
  $("#logout").hidden = !s;
  const admin = !s || !s.role || s.role === "admin"; // the gateway decides in the end
  $("#kill-switch").disabled = !admin;
  $("#kill-switch").title = admin ? "HALT every runner and cancel every open order" : "the kill switch needs an admin key";
}

export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem("tradebus.theme", theme);
  } catch (_) {
    /* storage blocked: the toggle still works for this page */
  }
  changed("theme");
}

async function onKill() {
  const ok = await confirmDialog(
    "Kill switch",
    "HALT trading on every runner and cancel every open order? Orders are refused until an admin resumes.",
    "HALT ALL",
  );
  if (!ok) return;
  try {
    const r = await api.killSwitch("kill switch (web UI)");
    const cmd = r.command || r;
    toast(`kill switch: ${cmd.status}`, cmd.status === "failed" ? "err" : "ok");
  } catch (err) {
    toast(`kill switch failed: ${err.message}`, "err");
  }
  changed("refresh-risk");
}

async function onStateBadge() {
  if (overallState() !== "halted" && overallState() !== "reducing") return;
  const ok = await confirmDialog("Resume trading", "Set every runner back to ACTIVE?", "Resume");
  if (!ok) return;
  try {
    const r = await api.setTradingState("active", "resumed from the web UI");
    const cmd = r.command || r;
    toast(`resume: ${cmd.status}${cmd.error ? " — " + cmd.error.detail : ""}`, cmd.status === "failed" ? "err" : "ok");
  } catch (err) {
    toast(`resume failed: ${err.message}`, "err");
  }
  changed("refresh-risk");
}

export function initHeader({ onLogout }) {
  on("runners", renderChips);
  on("trading-state", renderTradingState);
  on("stream", renderConn);
  on("session", renderWho);
  $("#kill-switch").addEventListener("click", onKill);
  $("#trading-state").addEventListener("click", onStateBadge);
  $("#theme-toggle").addEventListener("click", () => applyTheme(document.documentElement.dataset.theme === "light" ? "dark" : "light"));
  $("#logout").addEventListener("click", onLogout);
  renderConn();
}
