"""OKX's rate limits as the shared budget counts them (``exchanges.transport.ratelimit``).

OKX limits each endpoint by a rule — requests per 2 s (reference §4) — counted per user ID for
private endpoints (and per instrument where OKX says "User ID + instId": placing, cancelling,
amending and querying an order), per IP for public ones; over it the reply is ``50011 Too Many
Requests`` (HTTP 429 or 200). New orders and amends of the (sub-)account also count in 1,000 per
2 s across every instrument (``50061``). OKX sends no usage headers: a refusal marks the rule's
window as full for every process, which is all the reconciliation there is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from exchanges.transport.ratelimit import Route, Window

__all__ = ["ORDERS_WINDOW", "RULES", "Rule", "okx_route", "okx_windows", "rule_window"]

_WINDOW_MS = 2_000


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    limit: int  # requests per 2 s
    per: Literal["ip", "account"]
    per_inst: bool = False  # counted per instrument too
    order: bool = False  # a new order or an amend (the sub-account's 1,000 per 2 s)
    urgent: bool = False  # placement, cancel, amend: refused rather than parked, may use the reserve


_V5 = "/api/v5"
#: (method, path) → its rule (the paths the client calls; anything else counts on no rule)
RULES: dict[tuple[str, str], Rule] = {
    ("GET", f"{_V5}/public/time"): Rule("time", 10, "ip"),
    ("GET", f"{_V5}/public/instruments"): Rule("instruments", 20, "ip"),
    ("GET", f"{_V5}/market/books"): Rule("books", 40, "ip"),
    ("GET", f"{_V5}/market/ticker"): Rule("ticker", 20, "ip"),
    ("GET", f"{_V5}/market/tickers"): Rule("tickers", 20, "ip"),
    ("GET", f"{_V5}/market/index-tickers"): Rule("index-tickers", 20, "ip"),
    ("GET", f"{_V5}/public/funding-rate"): Rule("funding-rate", 10, "ip"),
    ("GET", f"{_V5}/public/funding-rate-history"): Rule("funding-history", 10, "ip"),
    ("GET", f"{_V5}/public/mark-price"): Rule("mark-price", 10, "ip"),
    ("POST", f"{_V5}/trade/order"): Rule("order", 60, "account", per_inst=True, order=True, urgent=True),
    ("POST", f"{_V5}/trade/amend-order"): Rule("amend", 60, "account", per_inst=True, order=True, urgent=True),
    ("POST", f"{_V5}/trade/cancel-order"): Rule("cancel", 60, "account", per_inst=True, urgent=True),
    ("GET", f"{_V5}/trade/order"): Rule("order-query", 60, "account", per_inst=True),
    ("GET", f"{_V5}/trade/orders-pending"): Rule("orders-pending", 60, "account"),
    ("GET", f"{_V5}/account/balance"): Rule("balance", 10, "account"),
    ("GET", f"{_V5}/account/positions"): Rule("positions", 10, "account"),
    ("POST", f"{_V5}/account/set-leverage"): Rule("set-leverage", 20, "account"),
    ("GET", f"{_V5}/account/leverage-info"): Rule("leverage-info", 20, "account"),
    ("GET", f"{_V5}/account/config"): Rule("account-config", 5, "account"),
}
ORDERS_WINDOW = Window("orders_2s", "orders", _WINDOW_MS, 1_000)  # new + amend, the whole (sub-)account


def rule_window(rule: Rule, group: str) -> Window:
    return Window(group, "calls", _WINDOW_MS, rule.limit, group=group, per=rule.per)


def okx_windows() -> list[Window]:
    """The windows known before any call (per-instrument ones are added as instruments are met)."""
    return [ORDERS_WINDOW, *(rule_window(r, r.name) for r in RULES.values() if not r.per_inst)]


def okx_route(method: str, path: str, params: Mapping[str, object], body: object) -> tuple[Route, Window | None]:
    """A call's cost and the window of its rule (None: a call on no rule of the table)."""
    rule = RULES.get((method, path))
    if rule is None:
        return Route(weight=0), None
    group = rule.name
    if rule.per_inst:
        fields = body if isinstance(body, Mapping) else params
        group = f"{rule.name}:{fields.get('instId', '')}"
    return Route(weight=0, group=group, order=rule.order, urgent=rule.urgent), rule_window(rule, group)
