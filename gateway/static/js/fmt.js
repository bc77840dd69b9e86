// Formatting. Money arrives as decimal strings and is shown as the text it is (never through a
// float): trailing zeros dropped, no exponents. Numbers are used only to size bars and plot.

/** An instrument key as text: the wire's array ["binance","BTCUSDT","perp"] or already text. */
export function keyText(k) {
  if (!k) return "";
  if (typeof k === "string") return k;
  if (Array.isArray(k) && k.length === 3) return `${k[0]}:${k[2]}:${k[1]}`;
  if (typeof k === "object" && k.exchange) return `${k.exchange}:${k.kind}:${k.symbol}`;
  return String(k);
}

export function keyParts(text) {
  const [exchange, kind, symbol] = keyText(text).split(":");
  return { exchange, kind, symbol };
}

/** A decimal string in plain form: "50000.10000000" → "50000.1", "1E-8" → "0.00000001". */
export function dec(v) {
  if (v === null || v === undefined || v === "") return "";
  let s = String(v).trim();
  if (/e/i.test(s)) s = expandExponent(s);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  if (s === "-0") s = "0";
  return s;
}

function expandExponent(s) {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, int, frac = "", expText] = m;
  const all = int + frac;
  const lead = int.length + Number(expText); // where the point goes in `all`
  let out;
  if (lead <= 0) out = "0." + "0".repeat(-lead) + all;
  else if (lead >= all.length) out = all + "0".repeat(lead - all.length);
  else out = all.slice(0, lead) + "." + all.slice(lead);
  return (sign === "-" ? "-" : "") + out.replace(/^0+(?=\d)/, "");
}

/** A decimal string with a fixed number of places (for aligned ladders), by string rounding. */
export function fixed(v, places) {
  const s = dec(v);
  if (s === "") return "";
  const neg = s.startsWith("-");
  const [int, frac = ""] = (neg ? s.slice(1) : s).split(".");
  if (frac.length <= places) return (neg ? "-" : "") + int + (places ? "." + frac.padEnd(places, "0") : "");
  // round half up on the digit string
  const digits = (int + frac.slice(0, places)).split("").map(Number);
  if (Number(frac[places]) >= 5) {
    let i = digits.length - 1;
    while (i >= 0) {
      if (digits[i] === 9) {
        digits[i] = 0;
        i -= 1;
      } else {
        digits[i] += 1;
        break;
      }
    }
    if (i < 0) digits.unshift(1);
  }
  const all = digits.join("");
  const cut = all.length - places;
  const out = places ? all.slice(0, cut) + "." + all.slice(cut) : all;
  return (neg && /[1-9]/.test(out) ? "-" : "") + out;
}

/** Places a tick size implies ("0.10" → 1, "0.01" → 2, "1" → 0). */
export function placesOf(step) {
  const s = dec(step);
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

/** Sign class for a decimal string: "pos", "neg" or "". */
export function signClass(v) {
  const s = dec(v);
  if (!s || /^-?0(\.0*)?$/.test(s)) return "";
  return s.startsWith("-") ? "neg" : "pos";
}

/** Signed text ("+12.5", "-3"). */
export function signed(v) {
  const s = dec(v);
  if (!s) return "";
  return s.startsWith("-") || /^0(\.0*)?$/.test(s) ? s : "+" + s;
}

/** Signed with a fixed number of places, for aligned money columns ("+4.3500", "-0.1200"). */
export function signedFixed(v, places) {
  const f = fixed(v, places);
  if (!f) return "";
  return f.startsWith("-") || !/[1-9]/.test(f) ? f : "+" + f;
}

export function num(v) {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** A funding rate as a percentage with 4 places ("0.0001" → "0.0100%"). */
export function pct(v, places = 4) {
  if (v === null || v === undefined || v === "") return "";
  return (num(v) * 100).toFixed(places) + "%";
}

export function time(ms) {
  if (!ms) return "";
  const d = new Date(Number(ms));
  return d.toISOString().slice(11, 19);
}

/** "12-07 08:01:10" (UTC, no year): dense enough for the tables. */
export function dateTime(ms) {
  if (!ms) return "";
  return new Date(Number(ms)).toISOString().replace("T", " ").slice(5, 19);
}

export function ago(ms) {
  if (!ms) return "";
  const s = Math.max(0, (Date.now() - Number(ms)) / 1000);
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${(s / 60).toFixed(0)}m`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

/** "in 3h 12m" until a future time. */
export function until(ms) {
  if (!ms) return "";
  let s = Math.round((Number(ms) - Date.now()) / 1000);
  if (s <= 0) return "now";
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  return h ? `${h}h ${m}m` : `${m}m ${s - m * 60}s`;
}

// ------------------------------------------------------------------ exact decimal arithmetic
// For the few sums the UI makes itself (a position's unrealised PnL at a live mark, totals):
// decimal strings as BigInt × 10^-scale, so no float ever touches money.

function parseDec(v) {
  const s = dec(v) || "0";
  const neg = s.startsWith("-");
  const [int, frac = ""] = (neg ? s.slice(1) : s).split(".");
  const n = BigInt((int || "0") + frac);
  return { n: neg ? -n : n, scale: frac.length };
}

function align(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [a.n * 10n ** BigInt(scale - a.scale), b.n * 10n ** BigInt(scale - b.scale), scale];
}

function render({ n, scale }) {
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = digits.slice(0, -scale) + "." + digits.slice(-scale);
  }
  return dec((neg ? "-" : "") + digits);
}

/** Exact a + b of decimal strings. */
export function add(a, b) {
  const [x, y, scale] = align(parseDec(a), parseDec(b));
  return render({ n: x + y, scale });
}

/** Exact a − b of decimal strings. */
export function sub(a, b) {
  const [x, y, scale] = align(parseDec(a), parseDec(b));
  return render({ n: x - y, scale });
}

/** Exact a × b of decimal strings. */
export function mul(a, b) {
  const x = parseDec(a);
  const y = parseDec(b);
  return render({ n: x.n * y.n, scale: x.scale + y.scale });
}

/** Whether a decimal string is zero (or empty). */
export function isZero(v) {
  return parseDec(v).n === 0n;
}
