// The web UI's entry point: login, the first loads, the live stream, periodic refreshes.

import * as api from "./api.js";
import { $, toast } from "./dom.js";
import * as store from "./store.js";
import { initAccount } from "./panels/account.js";
import { initBook } from "./panels/book.js";
import { initHeader } from "./panels/header.js";
import { initRunners } from "./panels/runners.js";
import { initStrategies } from "./panels/strategies.js";
import { initTicket } from "./panels/ticket.js";

const { state, changed, on } = store;

const stream = new api.Stream({
  onMessage,
  onState(s, detail) {
    state.stream.state = s;
    state.stream.detail = detail;
    changed("stream");
    // A gateway restart forgets its sessions: the WebSocket upgrade is then refused with a plain
    // HTTP 401 the browser does not show us. A REST read after a failed connect tells (its 401
    // opens the login); anything else just keeps the reconnects going.
    if (s === "down" && stream.attempt >= 2) api.runners().catch(() => {});
  },
});

function onMessage(msg) {
  state.stream.received += 1;
  switch (msg.type) {
    case "event":
      store.applyEvent(msg.runner, msg.event, msg);
      break;
    case "snapshot":
    case "gap":
      // the snapshot's parts sit under `snapshot` (books, orders, positions, funding, account)
      if (msg.snapshot) store.applySnapshot({ ...msg.snapshot, runner: msg.runner });
      else refreshAccount();
      break;
    case "subscribed":
      state.stream.runners = msg.runners || {};
      changed("stream");
      break;
    case "dropped":
      state.stream.dropped = (state.stream.dropped || 0) + (msg.count || 0);
      changed("stream");
      break;
    case "error":
      console.warn("stream:", (msg.problem && msg.problem.detail) || msg);
      break;
    default:
      break;
  }
}

// ------------------------------------------------------------------ loads

const settle = async (p, apply) => {
  try {
    apply(await p);
  } catch (err) {
    if (err.status !== 401) console.warn(err.message);
  }
};

/** Fetch each read and hand its answer to the store (a failed read leaves that part as it was). */
const load = (reads) => Promise.all(reads.map(([read, apply]) => settle(read(), apply)));

const ACCOUNT = [
  [api.openOrders, store.setOpenOrders],
  [api.positions, store.setPositions],
  [api.balances, store.setBalances],
  [api.commands, store.setCommands],
];
const STATUS = [
  [api.runners, store.setRunners],
  [api.tradingStates, store.setTradingStates],
  [api.strategies, store.setStrategies],
  [api.risk, store.setRisk],
];
const ONCE = [
  [api.instruments, store.setInstruments],
  [api.fundingRates, store.setFunding],
  [api.orderHistory, store.setHistory],
  [api.fillHistory, store.setFills],
  [api.fundingHistory, store.setFundingPayments],
];

const refreshAccount = () => load(ACCOUNT);
const refreshStatus = () => load([...STATUS, [api.commands, store.setCommands]]);
const loadAll = () => load([...STATUS, ...ACCOUNT, ...ONCE]);

let debounce = null;
on("refresh-orders", () => {
  clearTimeout(debounce);
  debounce = setTimeout(refreshAccount, 300);
});
on("refresh-risk", () => setTimeout(refreshStatus, 300));

// ------------------------------------------------------------------ session

function showLogin() {
  stream.close();
  state.session = null;
  changed("session");
  const dlg = $("#login");
  if (!dlg.open) dlg.showModal();
  $("#login-key").focus();
}

async function start() {
  dlgClose();
  await loadAll();
  stream.connect();
}

function dlgClose() {
  const dlg = $("#login");
  if (dlg.open) dlg.close();
}

async function onLogin(ev) {
  ev.preventDefault();
  const input = $("#login-key");
  const err = $("#login-error");
  err.hidden = true;
  $("#login-submit").disabled = true;
  try {
    state.session = await api.login(input.value.trim());
    input.value = "";
    changed("session");
    await start();
  } catch (e) {
    err.textContent = e.status === 401 ? "this key is not valid (unknown or revoked)" : e.message;
    err.hidden = false;
  } finally {
    $("#login-submit").disabled = false;
  }
}

async function onLogout() {
  try {
    await api.logout();
  } catch (err) {
    toast(`log out: ${err.message}`, "err");
  }
  showLogin();
}

async function boot() {
  initHeader({ onLogout });
  initRunners();
  initBook();
  initTicket();
  initAccount();
  initStrategies();
  api.setUnauthorizedHandler(showLogin);
  $("#login-form").addEventListener("submit", onLogin);
  $("#login").addEventListener("cancel", (e) => e.preventDefault()); // no way around the login
  document.addEventListener("order-update", (e) => store.applyEvent(state.orderRunner.get(store.orderId(e.detail)) || "", { event: "order", order: e.detail }));
  setInterval(() => {
    if (state.stream.state !== "idle" && state.stream.state !== "closed") refreshStatus();
  }, 5000);
  try {
    state.session = await api.session();
    changed("session");
  } catch (err) {
    if (err.status === 401) showLogin();
    else toast(`gateway: ${err.message}`, "err");
    return;
  }
  await start();
}

// for people debugging in the console and for the browser tests
window.tradebus = { state, stream, api };

boot();
