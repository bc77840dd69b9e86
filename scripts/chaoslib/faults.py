"""The fault catalogue: what each kind does, which venue paths it hits, how recovery is checked.

:func:`plan` draws ``n`` faults from a seeded RNG (kind by weight, then venue, host, counts,
statuses); :func:`inject` performs one against the running cluster and returns the recovery
checks to run (see :mod:`chaoslib.probe`). Request faults (5xx, 429/418, unknown outcome) are
armed on the venues' order-placement paths most of the time, so they hit the strategies'
orders; they have no recovery check (nothing stays broken — their effect is what the audit
measures). Strategy SIGKILL + restart needs a strategy journal: it is only planned when
``strategy --help`` offers ``--data-dir`` or ``--journal`` (see :func:`strategy_journal_flag`).
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from benchlib.procs import ROOT, child_env

from .cluster import VENUES, Cluster
from .probe import user_products

__all__ = ["KINDS", "Fault", "plan", "inject", "strategy_journal_flag", "ORDER_PATHS"]

# kind → weight (relative frequency)
KINDS: dict[str, float] = {
    "ws_kill_user": 10,
    "ws_kill_streams": 8,
    "ws_kill_ws_api": 5,
    "ws_kill_all": 5,
    "listen_key_expiry": 5,
    "http_5xx": 12,
    "http_429": 6,
    "http_418": 3,
    "unknown_error": 8,
    "unknown_hang": 6,
    "unknown_drop": 6,
    "stale_frames": 5,
    "out_of_order_frames": 5,
    "malformed_frames": 5,
    "runner_kill": 3,
    "redis_restart": 2,
    "strategy_kill": 2,
}

ORDER_PATHS: dict[tuple[str, str], str] = {
    ("binance", "spot"): "/ws-api/v3/order.place",
    ("binance", "futures"): "/ws-fapi/v1/order.place",
    ("bybit", "spot"): "/v5/order/create",
    ("bybit", "futures"): "/v5/order/create",
    ("okx", "spot"): "/ws/v5/private/order",
    ("okx", "futures"): "/ws/v5/private/order",
}
"""Order placement as each runner sends it (Binance: WS-API ``order.place``; Bybit: REST; OKX:
the private WebSocket's ``order`` op, REST only when that socket is down)."""

_BINANCE_ONLY = frozenset({"ws_kill_ws_api", "listen_key_expiry", "http_418"})
"""418 is Binance's IP ban with Retry-After; Bybit answers HTTP 403, a ban of at least 10
minutes (the adapter rightly blocks the host that long), which would end the run's trading."""


@dataclass
class Fault:
    seq: int
    kind: str
    venue: str
    product: str | None = None  # spot | futures | None (both / not applicable)
    params: dict[str, Any] = field(default_factory=dict)
    t0: float = 0.0
    error: str = ""
    checks: list[str] = field(default_factory=list)
    recovery: dict[str, float | None] = field(default_factory=dict)
    skipped: str = ""
    replaces: str = ""  # the request fault this one stands in for (see replacement())

    def to_json(self) -> dict[str, Any]:
        worst = None
        if self.recovery:
            vals = list(self.recovery.values())
            worst = None if any(v is None for v in vals) else max(v for v in vals if v is not None)
        return {
            "seq": self.seq,
            "kind": self.kind,
            "venue": self.venue,
            "product": self.product,
            "params": self.params,
            "t": round(self.t0, 3),
            "error": self.error,
            "skipped": self.skipped,
            "replaces": self.replaces,
            "recovery_s": round(worst, 3) if worst is not None else None,
            "checks": {k: (round(v, 3) if v is not None else None) for k, v in self.recovery.items()},
        }


def strategy_journal_flag() -> str | None:
    """``--data-dir`` or ``--journal`` when ``strategy spotperp --help`` lists one, else None."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "strategies.cli", "spotperp", "--help"],
            check=False,
            cwd=ROOT,
            env=child_env({"COLUMNS": "200"}),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for flag in ("--data-dir", "--journal"):
        if flag in out:
            return flag
    return None


def plan(n: int, rng: random.Random, *, journal: bool) -> list[Fault]:
    kinds = [k for k in KINDS if journal or k != "strategy_kill"]
    weights = [KINDS[k] for k in kinds]
    faults: list[Fault] = []
    for seq in range(n):
        kind = rng.choices(kinds, weights)[0]
        venue = "binance" if kind in _BINANCE_ONLY else rng.choice(VENUES)
        faults.append(_draw(seq, kind, venue, rng))
    return faults


def _draw(seq: int, kind: str, venue: str, rng: random.Random) -> Fault:
    product = rng.choice(("spot", "futures"))
    f = Fault(seq, kind, venue)
    if kind.startswith("http_") or kind.startswith("unknown_"):
        f.product = product
        on_orders = kind.startswith("unknown_") or rng.random() < 0.8
        path = ORDER_PATHS[(venue, product)] if on_orders else None
        p: dict[str, Any] = {"path_prefix": path} if path else {}
        p["host"] = product  # every venue's faults can select the spot or the derivatives side
        if kind == "http_5xx":
            p.update(fail_next=rng.randint(1, 2), fail_status=rng.choice((500, 502, 503, 504)))
        elif kind in ("http_429", "http_418"):
            p.update(throttle_next=1, throttle_status=int(kind[-3:]), retry_after_s=rng.randint(1, 3))
        else:
            p.update(unknown_next=1, unknown_mode=kind.removeprefix("unknown_"))
        f.params = p
    elif kind.endswith("_frames"):
        f.params = {kind: rng.randint(1, 5)}
        if venue == "binance":
            f.product = product
            f.params["host"] = product
    elif kind.startswith("ws_kill_"):
        target = {"user": "user", "streams": "streams", "ws_api": "ws-api", "all": "all"}[kind.removeprefix("ws_kill_")]
        f.params = {"target": target}
        if venue == "binance" and target != "ws-api" and rng.random() < 0.5:
            f.product = product
            f.params["host"] = product
    elif kind == "strategy_kill":
        f.params = {"strategy_index": rng.randrange(1 << 16)}
    return f


REQUEST_KINDS = frozenset(k for k in KINDS if k.startswith(("http_", "unknown_")))


def request_pending(f: Fault, cluster: Cluster) -> bool:
    """True when a request fault armed earlier on the same venue side has not fired yet."""
    state = cluster.ctl(f.venue, f.product).call("GET", "/_sim/faults")
    return any(r.get("remaining", 0) > 0 and r.get("host") in (None, f.product) for r in state.get("rules", []))


def replacement(f: Fault, rng: random.Random, *, journal: bool) -> Fault:
    """A non-request fault in the same slot (request faults do not pile up at a venue side that
    sends few orders: one armed rule per side at a time); it remembers what it replaced."""
    kinds = [k for k in KINDS if k not in REQUEST_KINDS and (journal or k != "strategy_kill")]
    kind = rng.choices(kinds, [KINDS[k] for k in kinds])[0]
    venue = "binance" if kind in _BINANCE_ONLY else rng.choice(VENUES)
    new = _draw(f.seq, kind, venue, rng)
    new.replaces = f.kind
    return new


def _products(f: Fault) -> tuple[str, ...]:
    if f.product is not None:
        return (f.product,)
    return ("spot", "futures")


def checks_for(f: Fault) -> list[str]:
    """The recovery checks of one fault (empty: nothing to recover from)."""
    v = f.venue
    user = [f"user:{v}:{p}" for p in user_products(v) if p in _products(f) or v != "binance"]
    market = [f"market:{v}:{p}" for p in _products(f)]
    if f.kind == "ws_kill_user" or f.kind == "listen_key_expiry":
        return [c for c in user if f.kind != "listen_key_expiry" or c.endswith("futures")]
    if f.kind == "ws_kill_ws_api":
        return [c for c in user if c.endswith(":spot")]  # Binance spot user data rides the WS-API
    if f.kind == "ws_kill_streams" or f.kind.endswith("_frames"):
        return market
    if f.kind == "ws_kill_all":
        return user + market
    if f.kind == "runner_kill":
        return [f"cmd:{v}", *(f"user:{v}:{p}" for p in user_products(v))]
    if f.kind == "redis_restart":
        return [*(f"registry:{x}" for x in VENUES), *(f"cmd:{x}" for x in VENUES)]
    return []


def inject(f: Fault, cluster: Cluster) -> None:
    """Perform ``f`` now; errors are recorded on it (the run goes on)."""
    try:
        _inject(f, cluster)
    except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is reported, not fatal
        f.error = f"{type(exc).__name__}: {exc}"[:300]
    f.checks = [] if f.error or f.skipped else checks_for(f)


def _inject(f: Fault, cluster: Cluster) -> None:
    ctl = cluster.ctl(f.venue, f.product)
    k = f.kind
    if k.startswith("http_") or k.startswith("unknown_") or k.endswith("_frames"):
        ctl.call("POST", "/_sim/faults", f.params)
    elif k.startswith("ws_kill_"):
        f.params["killed"] = ctl.call(
            "POST", "/_sim/ws/kill", {kk: vv for kk, vv in f.params.items() if kk != "killed"}
        )["killed"]
    elif k == "listen_key_expiry":
        f.params["expired"] = ctl.call("POST", "/_sim/listen-keys/expire")["expired"]
    elif k == "runner_kill":
        cluster.kill_runner(f.venue)
        cluster.start_runner(f.venue)
    elif k == "redis_restart":
        cluster.restart_redis()
    elif k == "strategy_kill":
        names = sorted(cluster.strategies)
        name = names[int(f.params["strategy_index"]) % len(names)]
        f.params["strategy"] = name
        cluster.restart_strategy(name)
    else:
        raise ValueError(f"unknown fault kind {k!r}")
