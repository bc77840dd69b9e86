// A time chart on <canvas>, drawn by hand (no library, nothing fetched at run time).
// Series: {name, color (a CSS variable name or a colour), points: [[t_ms, value], ...], width,
// type: "line" (a step line, held to the right edge unless hold === false) | "bar"}.
// Bars at the same time stack: positive values upwards from zero, negative ones downwards
// (a PnL attribution: each day's parts above and below the line, the running total over them).

const PAD = { l: 58, r: 10, t: 8, b: 20 };

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function colour(c) {
  return c && c.startsWith("--") ? cssVar(c) : c;
}

/** "Nice" tick step for a span and a wanted number of ticks. */
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return nice * mag;
}

function fmtValue(v, step) {
  const places = Math.max(0, Math.min(8, -Math.floor(Math.log10(step || 1))));
  return v.toFixed(places);
}

function fmtTime(ms, span, days) {
  const iso = new Date(ms).toISOString();
  if (days || span > 2 * 86400000) return iso.slice(5, 10);
  if (span > 600000) return iso.slice(11, 16);
  return iso.slice(11, 19);
}

/** Per time: the sums of the positive and the negative bar values (the stacks' extents). */
function stacks(series) {
  const out = new Map();
  for (const s of series) {
    if (s.type !== "bar") continue;
    for (const [t, v] of s.points) {
      const st = out.get(t) || { pos: 0, neg: 0 };
      if (v > 0) st.pos += v;
      else st.neg += v;
      out.set(t, st);
    }
  }
  return out;
}

export class LineChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.series = [];
    this.opts = {};
    this.hover = null;
    this.emptyText = "no PnL history yet";
    canvas.addEventListener("mousemove", (e) => {
      const r = canvas.getBoundingClientRect();
      this.hover = { x: e.clientX - r.left, y: e.clientY - r.top };
      this.draw();
    });
    canvas.addEventListener("mouseleave", () => {
      this.hover = null;
      this.draw();
    });
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** opts: {barMs: a bar's width in ms, days: label the time axis with dates}. */
  setSeries(series, emptyText, opts = {}) {
    this.series = series;
    this.opts = opts;
    if (emptyText) this.emptyText = emptyText;
    this.draw();
  }

  bounds() {
    let t0 = Infinity;
    let t1 = -Infinity;
    let v0 = 0; // the zero line is always in view
    let v1 = 0;
    let n = 0;
    const half = (this.opts.barMs || 0) / 2;
    for (const s of this.series) {
      for (const [t, v] of s.points) {
        n += 1;
        const pad = s.type === "bar" ? half : 0;
        t0 = Math.min(t0, t - pad);
        t1 = Math.max(t1, t + pad);
        v0 = Math.min(v0, v);
        v1 = Math.max(v1, v);
      }
    }
    if (n === 0) return null;
    for (const st of stacks(this.series).values()) {
      v0 = Math.min(v0, st.neg);
      v1 = Math.max(v1, st.pos);
    }
    if (t1 === t0) {
      t0 -= 60000;
      t1 += 60000;
    }
    if (v1 === v0) {
      v1 += 1;
      v0 -= 1;
    }
    const pad = (v1 - v0) * 0.08;
    return { t0, t1, v0: v0 - pad, v1: v1 + pad, n };
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const hgt = c.clientHeight;
    if (!w || !hgt) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.font = "11px ui-monospace, Menlo, Consolas, monospace";
    const b = this.bounds();
    c.dataset.points = b ? String(b.n) : "0";
    if (!b) {
      g.fillStyle = cssVar("--muted");
      g.textAlign = "center";
      g.fillText(this.emptyText, w / 2, hgt / 2);
      return;
    }
    const pw = w - PAD.l - PAD.r;
    const ph = hgt - PAD.t - PAD.b;
    const x = (t) => PAD.l + ((t - b.t0) / (b.t1 - b.t0)) * pw;
    const y = (v) => PAD.t + (1 - (v - b.v0) / (b.v1 - b.v0)) * ph;
    this.drawAxes(g, b, x, y, w, hgt, pw, ph);
    this.drawBars(g, b, x, y, pw);
    this.drawLines(g, x, y, w);
    this.drawHover(g, b, w, hgt);
  }

  drawAxes(g, b, x, y, w, hgt, pw, ph) {
    const muted = cssVar("--muted");
    g.strokeStyle = cssVar("--line");
    g.lineWidth = 1;
    g.fillStyle = muted;
    g.textAlign = "right";
    g.textBaseline = "middle";
    const vs = niceStep(b.v1 - b.v0, Math.max(2, Math.floor(ph / 28)));
    for (let v = Math.ceil(b.v0 / vs) * vs; v <= b.v1; v += vs) {
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath();
      g.moveTo(PAD.l, yy);
      g.lineTo(w - PAD.r, yy);
      g.stroke();
      g.fillText(fmtValue(v, vs), PAD.l - 6, yy);
    }
    g.textBaseline = "top";
    if (this.opts.days) {
      // one date under each bar (every k-th when they do not fit)
      const days = Array.from(stacks(this.series).keys()).sort((p, q) => p - q);
      const k = Math.max(1, Math.ceil((days.length * 50) / pw));
      g.textAlign = "center";
      days.forEach((t, i) => i % k === 0 && g.fillText(fmtTime(t, 0, true), x(t), hgt - PAD.b + 5));
    } else {
      const ticks = Math.max(2, Math.floor(pw / 90));
      for (let i = 0; i <= ticks; i += 1) {
        const t = b.t0 + ((b.t1 - b.t0) * i) / ticks;
        g.textAlign = i === 0 ? "left" : i === ticks ? "right" : "center";
        g.fillText(fmtTime(t, b.t1 - b.t0, false), x(t), hgt - PAD.b + 5);
      }
    }
    g.strokeStyle = muted; // the zero line
    g.setLineDash([3, 3]);
    g.beginPath();
    g.moveTo(PAD.l, Math.round(y(0)) + 0.5);
    g.lineTo(w - PAD.r, Math.round(y(0)) + 0.5);
    g.stroke();
    g.setLineDash([]);
  }

  drawBars(g, b, x, y, pw) {
    const width = Math.max(3, ((this.opts.barMs || 0) / (b.t1 - b.t0)) * pw * 0.7);
    const acc = new Map(); // t → {pos, neg} drawn so far
    for (const s of this.series) {
      if (s.type !== "bar") continue;
      g.fillStyle = colour(s.color);
      for (const [t, v] of s.points) {
        if (!v) continue;
        const st = acc.get(t) || { pos: 0, neg: 0 };
        const from = v > 0 ? st.pos : st.neg;
        const to = from + v;
        if (v > 0) st.pos = to;
        else st.neg = to;
        acc.set(t, st);
        const top = Math.min(y(from), y(to));
        g.fillRect(x(t) - width / 2, top, width, Math.max(1, Math.abs(y(to) - y(from))));
      }
    }
  }

  drawLines(g, x, y, w) {
    // the first series (the total) is drawn last: on top where lines meet
    for (const s of this.series.slice().reverse()) {
      if (s.type === "bar" || !s.points.length) continue;
      g.strokeStyle = colour(s.color);
      g.fillStyle = colour(s.color);
      g.lineWidth = s.width || 1.5;
      g.beginPath();
      s.points.forEach(([t, v], i) => {
        if (i === 0) g.moveTo(x(t), y(v));
        else {
          g.lineTo(x(t), y(s.points[i - 1][1]));
          g.lineTo(x(t), y(v));
        }
      });
      if (s.hold !== false) g.lineTo(w - PAD.r, y(s.points[s.points.length - 1][1])); // the value now
      g.stroke();
      if (s.points.length <= 60) {
        for (const [t, v] of s.points) {
          g.beginPath();
          g.arc(x(t), y(v), s.width > 2 ? 2.5 : 1.8, 0, Math.PI * 2);
          g.fill();
        }
      }
    }
  }

  drawHover(g, b, w, hgt) {
    if (!this.hover || this.hover.x < PAD.l || this.hover.x > w - PAD.r) return;
    const t = b.t0 + ((this.hover.x - PAD.l) / (w - PAD.l - PAD.r)) * (b.t1 - b.t0);
    g.strokeStyle = cssVar("--muted");
    g.beginPath();
    g.moveTo(this.hover.x + 0.5, PAD.t);
    g.lineTo(this.hover.x + 0.5, hgt - PAD.b);
    g.stroke();
    const half = (this.opts.barMs || 0) / 2;
    const lines = [new Date(t).toISOString().replace("T", " ").slice(0, this.opts.days ? 10 : 19)];
    for (const s of this.series) {
      let val = null;
      for (const [pt, v] of s.points) if (s.type === "bar" ? Math.abs(pt - t) <= half : pt <= t) val = v;
      if (val !== null) lines.push(`${s.name} ${val.toFixed(4)}`);
    }
    const bw = 8 + Math.max(...lines.map((l) => g.measureText(l).width));
    const bx = this.hover.x + 10 + bw > w ? this.hover.x - bw - 10 : this.hover.x + 10;
    g.fillStyle = cssVar("--panel-2");
    g.strokeStyle = cssVar("--line");
    g.fillRect(bx, PAD.t, bw, lines.length * 14 + 6);
    g.strokeRect(bx + 0.5, PAD.t + 0.5, bw, lines.length * 14 + 6);
    g.fillStyle = cssVar("--text");
    g.textAlign = "left";
    g.textBaseline = "top";
    lines.forEach((l, i) => g.fillText(l, bx + 4, PAD.t + 4 + i * 14));
  }
}
