"""The ``/_sim/`` admin API every simulated host serves (venue-neutral).

All bodies and replies are JSON; a bad request gets ``400 {"error": "..."}`` and changes
nothing. Routes (see ``docs/simulator.md``):

=======  ==================================  ==================================================
GET      /_sim/state                         engine, connections, faults, counters
GET      /_sim/faults                        armed faults and how often each fired
GET      /_sim/orders                        every order kept (with its fills), positions, spot wallet
POST     /_sim/faults                        arm faults (``FaultRequest``)
DELETE   /_sim/faults                        disarm everything
POST     /_sim/ws/kill                       ``{"host"?, "target"?: all|streams|ws-api|user}``
POST     /_sim/listen-keys/expire            expire every listenKey now
POST     /_sim/server-shutdown               send ``serverShutdown`` events
POST     /_sim/engine/basis                  ``{"symbol", "bps", "jump"?}``
POST     /_sim/engine/funding-rate           ``{"symbol", "rate": "0.0001" | null}``
POST     /_sim/engine/move-index             ``{"underlying", "pct"}``
POST     /_sim/engine/settle-funding         ``{"symbol"}``
POST     /_sim/engine/pause                  ``{"paused": true|false}``
POST     /_sim/engine/liquidity              ``{"kind": "spot"|"perp", "symbol", "level_qty"}``
POST     /_sim/engine/deposit                ``{"kind", "asset", "amount"}``
=======  ==================================  ==================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import msgspec
from aiohttp import web

from exchanges.sim.engine import SimReject, SimVenue
from strategy_client.model import MarketKind

from .faults import FaultRequest, Faults

__all__ = ["SimHooks", "admin_routes", "ADMIN_PREFIX", "ledger"]

ADMIN_PREFIX = "/_sim"
T = TypeVar("T")


class SimHooks(Protocol):
    """What a dialect adds to the admin API."""

    account: str

    def kill_ws(self, host: str | None, target: str) -> int: ...

    def expire_listen_keys(self) -> int: ...

    def server_shutdown(self) -> int: ...

    def state(self) -> dict[str, Any]: ...


class _Kill(msgspec.Struct, forbid_unknown_fields=True):
    host: str | None = None
    target: str = "all"


class _Basis(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    bps: float
    jump: bool = True


class _FundingRate(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    rate: Decimal | None


class _MoveIndex(msgspec.Struct, forbid_unknown_fields=True):
    underlying: str
    pct: float


class _Symbol(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str


class _Pause(msgspec.Struct, forbid_unknown_fields=True):
    paused: bool = True


class _Liquidity(msgspec.Struct, forbid_unknown_fields=True):
    kind: MarketKind
    symbol: str
    level_qty: Decimal


class _Deposit(msgspec.Struct, forbid_unknown_fields=True):
    kind: MarketKind
    asset: str
    amount: Decimal


_TARGETS = ("all", "streams", "ws-api", "user")
_enc = msgspec.json.Encoder()


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=_enc.encode(data), status=status, content_type="application/json")


class _BadRequest(Exception):
    pass


async def _body(request: web.Request, kind: type[T]) -> T:
    raw = await request.read()
    try:
        return msgspec.json.decode(raw or b"{}", type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _BadRequest(str(exc)) from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(fn: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except _BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        except SimReject as exc:
            return _json({"error": str(exc), "reason": exc.reason.value}, 400)

    return wrapped


def ledger(venue: SimVenue, account: str) -> dict[str, Any]:
    """The venue's own books of the test account (``GET /_sim/orders``): every order still kept
    (open and final, ascending by id, each with its fills) on every book, the perp positions and
    the spot wallet. An auditor compares clients' records against this; it is what happened."""
    out: list[dict[str, Any]] = []
    for kind in (MarketKind.SPOT, MarketKind.PERP):
        for spec in venue.instruments(kind):
            for order in venue.all_orders(account, kind, spec.symbol, limit=1 << 62):
                out.append(msgspec.to_builtins(order))
    return {
        "account": account,
        "orders": out,
        "positions": [msgspec.to_builtins(p) for p in venue.positions(account)],
        "spot_balances": {a: [str(free), str(locked)] for a, (free, locked) in venue.spot_balances(account).items()},
    }


def admin_routes(venue: SimVenue, faults: Faults, hooks: SimHooks) -> list[web.RouteDef]:
    """The ``/_sim/`` routes for one host (all hosts of a venue share the same state)."""

    async def state(request: web.Request) -> web.StreamResponse:
        return _json(hooks.state())

    async def get_faults(request: web.Request) -> web.StreamResponse:
        return _json(faults.state())

    async def orders(request: web.Request) -> web.StreamResponse:
        return _json(ledger(venue, hooks.account))

    async def arm(request: web.Request) -> web.StreamResponse:
        req = await _body(request, FaultRequest)
        faults.arm(req)
        return _json(faults.state())

    async def clear(request: web.Request) -> web.StreamResponse:
        faults.clear()
        return _json(faults.state())

    async def kill(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _Kill)
        if req.target not in _TARGETS:
            raise _BadRequest(f"target must be one of {', '.join(_TARGETS)}")
        killed = hooks.kill_ws(req.host, req.target)
        faults.count("kill_ws")
        return _json({"killed": killed})

    async def expire(request: web.Request) -> web.StreamResponse:
        faults.count("expire_listen_keys")
        return _json({"expired": hooks.expire_listen_keys()})

    async def shutdown(request: web.Request) -> web.StreamResponse:
        faults.count("server_shutdown")
        return _json({"sent": hooks.server_shutdown()})

    async def basis(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _Basis)
        venue.set_basis_bps(req.symbol, req.bps, jump=req.jump)
        return _json({"ok": True})

    async def funding_rate(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _FundingRate)
        venue.set_funding_rate(req.symbol, req.rate)
        return _json({"ok": True})

    async def move_index(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _MoveIndex)
        venue.move_index(req.underlying, req.pct)
        return _json({"ok": True})

    async def settle(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _Symbol)
        venue.settle_funding_now(req.symbol)
        return _json({"ok": True})

    async def pause(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _Pause)
        venue.pause(req.paused)
        return _json({"ok": True, "paused": req.paused})

    async def liquidity(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _Liquidity)
        venue.set_liquidity(req.kind, req.symbol, req.level_qty)
        return _json({"ok": True})

    async def deposit(request: web.Request) -> web.StreamResponse:
        req = await _body(request, _Deposit)
        venue.deposit(hooks.account, req.kind, req.asset, req.amount)
        return _json({"ok": True})

    p = ADMIN_PREFIX
    return [
        web.get(f"{p}/state", _guard(state)),
        web.get(f"{p}/faults", _guard(get_faults)),
        web.get(f"{p}/orders", _guard(orders)),
        web.post(f"{p}/faults", _guard(arm)),
        web.delete(f"{p}/faults", _guard(clear)),
        web.post(f"{p}/ws/kill", _guard(kill)),
        web.post(f"{p}/listen-keys/expire", _guard(expire)),
        web.post(f"{p}/server-shutdown", _guard(shutdown)),
        web.post(f"{p}/engine/basis", _guard(basis)),
        web.post(f"{p}/engine/funding-rate", _guard(funding_rate)),
        web.post(f"{p}/engine/move-index", _guard(move_index)),
        web.post(f"{p}/engine/settle-funding", _guard(settle)),
        web.post(f"{p}/engine/pause", _guard(pause)),
        web.post(f"{p}/engine/liquidity", _guard(liquidity)),
        web.post(f"{p}/engine/deposit", _guard(deposit)),
    ]
