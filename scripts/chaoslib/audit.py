"""The audit at the end of a chaos run: the venues' own books against runners and ledgers.

Pure functions over plain data (the JSON the venues, runners and strategies produced), so the
definitions in ``docs/chaos.md`` are exactly this code and can be tested without processes.
Every quantity is a Decimal in base units; client ids are the wire's (OKX's encoded
``clOrdId`` is decoded first).

Inputs:

* ``venues``: venue → ``GET /_sim/orders`` (``orders`` with ``fills``);
* ``runner_orders``: (venue, client id) → the runner's ``get_order`` at the end (status,
  filled_qty) or an error string;
* ``execs``: (venue, client id) → the most filled quantity any ``exec`` event carried;
* ``strategies``: name → (spec, ``--report`` JSON or None, exit status, stop seconds);
* ``lots``: (venue, kind) → the smallest tradeable step of the traded instrument.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchanges.okx.client_ids import from_okx

from .cluster import StrategySpec

__all__ = ["StrategyEnd", "audit", "wire_client_id", "owner"]

ZERO = Decimal(0)
FINAL = frozenset({"filled", "canceled", "expired", "rejected"})


@dataclass
class StrategyEnd:
    spec: StrategySpec
    report: dict[str, Any] | None
    exit_status: int | None
    stop_s: float
    error: str = ""
    # every fill the strategy's journal holds, over all its runs (``strategy history fills
    # --json``); None when the strategy keeps no journal. A strategy killed and restarted has
    # booked its earlier fills in the runs before the last, whose report covers only its own.
    journal_fills: list[dict[str, Any]] | None = None


def _journal_trades(end: StrategyEnd) -> list[dict[str, Any]]:
    """The journal's fills that the final report does not hold, in the report's trade shape."""
    in_report = {(str(t["client_id"]), str(t["trade_id"])) for t in (end.report or {}).get("trades", [])}
    out: list[dict[str, Any]] = []
    for row in end.journal_fills or []:
        ident = (str(row["client_id"]), str(row["trade_id"]))
        if ident in in_report:
            continue
        venue = str(row["key"]).split(":", 1)[0]
        out.append({"key": [venue], "client_id": ident[0], "trade_id": ident[1], "qty": row["qty"]})
    return out


@dataclass
class _Order:
    venue: str
    cid: str
    kind: str  # spot | perp
    side: str
    status: str
    executed: Decimal
    order_id: int = 0
    fills: list[dict[str, Any]] = field(default_factory=list)


def wire_client_id(venue: str, venue_cid: str) -> str:
    if venue == "okx":
        try:
            return str(from_okx(venue_cid))
        except ValueError:
            return venue_cid
    return venue_cid


def owner(cid: str, venue: str, specs: list[StrategySpec]) -> StrategySpec | None:
    """The strategy whose orders on ``venue`` start with its client-id prefix."""
    for spec in specs:
        if venue in spec.venues and cid.startswith(spec.client_prefix):
            return spec
    return None


def _orders(venues: dict[str, dict[str, Any]]) -> list[_Order]:
    out = []
    for venue, book in venues.items():
        for o in book.get("orders", []):
            out.append(
                _Order(
                    venue=venue,
                    cid=wire_client_id(venue, str(o["client_order_id"])),
                    kind=str(o["kind"]),
                    side=str(o["side"]),
                    status=str(o["status"]),
                    executed=Decimal(str(o["executed_qty"])),
                    order_id=int(o.get("order_id", 0)),
                    fills=list(o.get("fills", [])),
                )
            )
    return out


def _base_delta(order: _Order, fill: dict[str, Any]) -> Decimal:
    """What a fill did to the account's base holding (spot fees paid in base come off)."""
    qty = Decimal(str(fill["qty"]))
    signed = qty if order.side == "buy" else -qty
    if order.kind == "spot" and order.side == "buy" and str(fill.get("fee_asset", "")) not in ("USDT", "USDC", ""):
        signed -= Decimal(str(fill["fee"]))
    return signed


Cases = dict[str, list[dict[str, Any]]]


def audit(
    venues: dict[str, dict[str, Any]],
    runner_orders: dict[tuple[str, str], dict[str, Any]],
    execs: dict[tuple[str, str], Decimal],
    strategies: dict[str, StrategyEnd],
    lots: dict[tuple[str, str], Decimal],
    runner_open: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    specs = [s.spec for s in strategies.values()]
    orders = _orders(venues)
    cases: Cases = defaultdict(list)
    ledger_qty, booked_twice = _booked(strategies, cases)
    per_venue = {v: {"orders": 0, "fills": 0, "strategy_orders": 0, "open": 0} for v in venues}
    for o in orders:
        stats = per_venue[o.venue]
        stats["orders"] += 1
        stats["fills"] += len(o.fills)
        stats["open"] += o.status not in FINAL

    # duplicated: one client id twice at a venue; an intent (position, purpose) filled past size
    by_cid: dict[tuple[str, str], list[_Order]] = defaultdict(list)
    legs: dict[tuple[str, str, str, str], list[_Order]] = defaultdict(list)  # (strategy, venue, position, kind)
    strat_orders: dict[str, list[_Order]] = defaultdict(list)
    for o in orders:
        spec = owner(o.cid, o.venue, specs)
        if spec is None:
            continue
        per_venue[o.venue]["strategy_orders"] += 1
        strat_orders[spec.name].append(o)
        by_cid[(o.venue, o.cid)].append(o)
        legs[(spec.name, o.venue, o.cid.rpartition("-")[0], o.kind)].append(o)
    dup_cid = _client_ids_twice(by_cid, cases)
    dup_intent = _intents_overfilled(legs, strategies, cases)
    lost, mismatches, runner_mismatches = _lost_and_mismatched(
        strat_orders, strategies, ledger_qty, runner_orders, execs, cases
    )
    unresolved, open_mismatches = _runner_open_orders(orders, venues, runner_open, specs, by_cid, cases)
    runner_mismatches += open_mismatches
    naked, unfinished, strategies_out = _endings(strategies, strat_orders, lots, cases)

    return {
        "venues": per_venue,
        "orders_at_venues": sum(v["orders"] for v in per_venue.values()),
        "fills_at_venues": sum(v["fills"] for v in per_venue.values()),
        "lost": lost,
        "duplicated": dup_cid + dup_intent + booked_twice,
        "duplicated_by_kind": {
            "client_id_twice": dup_cid,
            "intent_overfilled": dup_intent,
            "fill_booked_twice": booked_twice,
        },
        "ledger_mismatches": mismatches,
        "naked_legs": naked,
        "unfinished_exits": unfinished,
        "runner_state_mismatches": runner_mismatches,
        "unresolved_at_end": unresolved,
        "strategies": strategies_out,
        "cases": {k: v for k, v in cases.items()},
    }


def _booked(strategies: dict[str, StrategyEnd], cases: Cases) -> tuple[dict[tuple[str, str, str], Decimal], int]:
    """Each strategy's ledger, (strategy, venue, client id) → booked qty, and the fills booked twice."""
    ledger_qty: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    booked_twice = 0
    for name, end in strategies.items():
        seen: set[tuple[str, str]] = set()
        for t in [*(end.report or {}).get("trades", []), *_journal_trades(end)]:
            venue = str(t["key"][0])
            ledger_qty[(name, venue, str(t["client_id"]))] += Decimal(str(t["qty"]))
            pair = (str(t["client_id"]), str(t["trade_id"]))
            if pair in seen:
                booked_twice += 1
                cases["duplicated"].append(
                    {"what": "fill booked twice", "strategy": name, "client_id": pair[0], "trade_id": pair[1]}
                )
            seen.add(pair)

    return ledger_qty, booked_twice


def _client_ids_twice(by_cid: dict[tuple[str, str], list[_Order]], cases: Cases) -> int:
    """One client id placed twice at a venue."""
    dup_cid = 0
    for (venue, cid), same in by_cid.items():
        if len(same) > 1:
            dup_cid += len(same) - 1
            cases["duplicated"].append(
                {"what": "client id placed twice", "venue": venue, "client_id": cid, "orders": len(same)}
            )
    return dup_cid


def _intents_overfilled(
    legs: dict[tuple[str, str, str, str], list[_Order]], strategies: dict[str, StrategyEnd], cases: Cases
) -> int:
    """An intent (position, purpose) filled past its size by several orders."""
    dup_intent = 0
    for (name, venue, pid, kind), group in legs.items():
        size = _size(strategies[name])
        if size is None:
            continue
        # runs of same-side, same-purpose filled orders on one leg, in the venue's order-id
        # (creation) order; an opposite-side fill on the leg (an unwind, an exit) ends every run
        runs: dict[tuple[str, str], list[_Order]] = {}
        flagged: set[tuple[str, str]] = set()
        for o in sorted(group, key=lambda x: x.order_id):
            if o.executed <= 0:
                continue
            for key in [k for k in runs if k[0] != o.side]:
                del runs[key]
                flagged.discard(key)
            key = (o.side, o.cid.rpartition("-")[2].rstrip("0123456789"))
            run = runs.setdefault(key, [])
            run.append(o)
            total = sum((x.executed for x in run), ZERO)
            if len(run) > 1 and total > size * Decimal("1.05") and key not in flagged:
                flagged.add(key)
                dup_intent += 1
                cases["duplicated"].append(
                    {
                        "what": "one intent filled by several orders past its size",
                        "venue": venue,
                        "position": pid,
                        "leg": kind,
                        "side": key[0],
                        "purpose": key[1],
                        "client_ids": [x.cid for x in run],
                        "filled": str(total),
                        "size": str(size),
                    }
                )

    return dup_intent


def _lost_and_mismatched(
    strat_orders: dict[str, list[_Order]],
    strategies: dict[str, StrategyEnd],
    ledger_qty: dict[tuple[str, str, str], Decimal],
    runner_orders: dict[tuple[str, str], dict[str, Any]],
    execs: dict[tuple[str, str], Decimal],
    cases: Cases,
) -> tuple[int, int, int]:
    """Lost fills, ledger mismatches and runner-state mismatches, order by order."""
    lost = mismatches = runner_mismatches = 0
    for name, olist in strat_orders.items():
        end = strategies[name]
        for o in olist:
            booked = ledger_qty.get((name, o.venue, o.cid), ZERO)
            runner = runner_orders.get((o.venue, o.cid), {})
            runner_filled = Decimal(str(runner.get("filled_qty", "0"))) if "filled_qty" in runner else ZERO
            known_runner = max(runner_filled, execs.get((o.venue, o.cid), ZERO))
            cum = ZERO
            for fill in o.fills:
                cum += Decimal(str(fill["qty"]))
                if cum > booked and cum > known_runner:
                    lost += 1
                    cases["lost"].append(
                        {
                            "venue": o.venue,
                            "client_id": o.cid,
                            "trade_id": fill.get("trade_id"),
                            "qty": str(fill["qty"]),
                            "strategy": name,
                        }
                    )
            if end.report is not None and booked != o.executed:
                mismatches += 1
                cases["ledger_mismatch"].append(
                    {
                        "strategy": name,
                        "venue": o.venue,
                        "client_id": o.cid,
                        "venue_status": o.status,
                        "venue_filled": str(o.executed),
                        "ledger_filled": str(booked),
                        "runner": runner,
                    }
                )
            r_status = str(runner.get("status", ""))
            if "error" in runner or r_status != o.status or runner_filled != o.executed:
                runner_mismatches += 1
                cases["runner_state_mismatch"].append(
                    {
                        "venue": o.venue,
                        "client_id": o.cid,
                        "venue_status": o.status,
                        "venue_filled": str(o.executed),
                        "runner": runner,
                    }
                )
        # ledger trades for client ids the venue never saw
        venue_cids = {(o.venue, o.cid) for o in olist}
        for (sname, venue, cid), qty in ledger_qty.items():
            if sname == name and (venue, cid) not in venue_cids and qty != 0:
                mismatches += 1
                cases["ledger_mismatch"].append(
                    {
                        "strategy": name,
                        "venue": venue,
                        "client_id": cid,
                        "venue_filled": None,
                        "ledger_filled": str(qty),
                    }
                )

    return lost, mismatches, runner_mismatches


def _runner_open_orders(
    orders: list[_Order],
    venues: dict[str, dict[str, Any]],
    runner_open: dict[str, list[dict[str, Any]]] | None,
    specs: list[StrategySpec],
    by_cid: dict[tuple[str, str], list[_Order]],
    cases: Cases,
) -> tuple[int, int]:
    """The runners' open orders (UNKNOWN and PENDING included) against the venues' open orders:
    (unresolved at the end, runner-state mismatches)."""
    unresolved = runner_mismatches = 0
    venue_open = {(o.venue, o.cid) for o in orders if o.status not in FINAL}
    runner_positions = (runner_open or {}).get("_positions")
    if runner_positions is not None:
        runner_mismatches += _positions(venues, runner_positions, cases)
    for venue, listed in (runner_open or {}).items():
        if venue == "_positions":
            continue
        for ro in listed:
            if "error" in ro:
                runner_mismatches += 1
                cases["runner_state_mismatch"].append({"venue": venue, "open_orders": ro})
                continue
            cid = str(ro["client_id"])
            if ro["status"] in ("unknown", "pending"):
                unresolved += 1
                cases["unresolved_at_end"].append({"venue": venue, **ro, "at_venue": _venue_status(by_cid, venue, cid)})
            if (venue, cid) not in venue_open and owner(cid, venue, specs) is not None:
                runner_mismatches += 1
                cases["runner_state_mismatch"].append(
                    {
                        "venue": venue,
                        "client_id": cid,
                        "runner_open": ro,
                        "venue_status": _venue_status(by_cid, venue, cid),
                    }
                )

    return unresolved, runner_mismatches


def _endings(
    strategies: dict[str, StrategyEnd],
    strat_orders: dict[str, list[_Order]],
    lots: dict[tuple[str, str], Decimal],
    cases: Cases,
) -> tuple[int, int, dict[str, Any]]:
    """Naked legs and unfinished exits, strategy by strategy, from the venue's fills."""
    naked = 0
    unfinished = 0
    strategies_out: dict[str, Any] = {}
    for name, end in strategies.items():
        net: dict[str, Decimal] = defaultdict(Decimal)
        for o in strat_orders.get(name, []):
            for fill in o.fills:
                net[f"{o.venue}:{o.kind}"] += _base_delta(o, fill)
        lot = max((lots.get(tuple(k.split(":")), Decimal("0.001")) for k in net), default=Decimal("0.001"))  # type: ignore[arg-type]  # k is "venue:kind"
        exposure = sum(net.values(), ZERO)
        is_naked = abs(exposure) >= lot
        if is_naked:
            naked += 1
            cases["naked"].append(
                {
                    "strategy": name,
                    "net_base": str(exposure),
                    "by_leg": {k: str(v) for k, v in net.items()},
                    "lot": str(lot),
                }
            )
        reasons = []
        if end.exit_status != 0:
            reasons.append(f"exit status {end.exit_status}")
        if end.report is None:
            reasons.append(end.error or "no report")
        open_legs = {k: str(v) for k, v in net.items() if abs(v) >= lot}
        if open_legs:
            reasons.append(f"legs still open at the venue {open_legs}")
        not_closed = _not_closed(end.report)
        if not_closed:
            reasons.append(f"positions not closed in the report: {not_closed}")
        if reasons:
            unfinished += 1
            cases["unfinished_exit"].append({"strategy": name, "reasons": reasons})
        strategies_out[name] = {
            "venues": list(end.spec.venues),
            "exit_status": end.exit_status,
            "stop_s": round(end.stop_s, 2),
            "report": end.report is not None,
            "ledger_trades": len((end.report or {}).get("trades", [])),
            "venue_orders": len(strat_orders.get(name, [])),
            "venue_fills": sum(len(o.fills) for o in strat_orders.get(name, [])),
            "net_base_at_venue": {k: str(v) for k, v in net.items()},
            "notes": (end.report or {}).get("notes", []),
        }

    return naked, unfinished, strategies_out


def _plain_symbol(symbol: str) -> str:
    return symbol.removesuffix("-SWAP").replace("-", "")


def _positions(venues: dict[str, dict[str, Any]], runner: list[dict[str, Any]], cases: dict[str, list[Any]]) -> int:
    """Perp positions the runners report against the venues' (every account symbol, flat = 0)."""
    theirs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for p in runner:
        if "error" in p:
            cases["runner_state_mismatch"].append({"positions": p})
            continue
        theirs[(str(p["venue"]), _plain_symbol(str(p["symbol"])))] += Decimal(str(p["size"]))
    ours: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for venue, book in venues.items():
        for p in book.get("positions", []):
            ours[(venue, _plain_symbol(str(p["symbol"])))] += Decimal(str(p["size"]))
    bad = 0
    for key in sorted(set(theirs) | set(ours)):
        if theirs.get(key, ZERO) != ours.get(key, ZERO):
            bad += 1
            cases["runner_state_mismatch"].append(
                {
                    "venue": key[0],
                    "position": key[1],
                    "venue_size": str(ours.get(key, ZERO)),
                    "runner_size": str(theirs.get(key, ZERO)),
                }
            )
    return bad + sum(1 for p in runner if "error" in p)


def _venue_status(by_cid: dict[tuple[str, str], list[_Order]], venue: str, cid: str) -> str:
    same = by_cid.get((venue, cid))
    return same[-1].status if same else "absent"


def _size(end: StrategyEnd) -> Decimal | None:
    cfg = (end.report or {}).get("config", {})
    return Decimal(str(cfg["size"])) if "size" in cfg else None


def _not_closed(report: dict[str, Any] | None) -> list[str]:
    if report is None:
        return []
    last: dict[str, str] = {}
    for t in report.get("transitions", []):
        last[str(t["position_id"])] = str(t["to_state"])
    return sorted(pid for pid, state in last.items() if state != "closed")
