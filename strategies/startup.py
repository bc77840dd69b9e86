"""Before a strategy trades: its runners found (and said so while waiting), its size checked.

* :func:`connect_runners` waits for one runner per exchange of the plan — the one named with
  ``--runner`` where given, else the exchange's only runner — saying what it waits for and for
  how long, and ends with one :class:`StrategyError` line carrying the exact command that starts
  the missing runner. Several runners on one exchange (a live and a paper one) ask for
  ``--runner NAME``; a runner named for an exchange the strategy does not trade is refused.
* :func:`size_problem` refuses a ``size`` that no order of one of the pair's legs could carry
  (below its minimum quantity, or its minimum notional at the current price), naming the
  smallest size that trades on both legs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from strategy_client.discovery import DEFAULT_REDIS_URL
from strategy_client.errors import AmbiguousRoute, CoreApiError, DiscoveryError, ProtocolMismatch
from strategy_client.model import Exchange, OrderType, round_up, to_plain
from strategy_client.router import ZmqRouter
from strategy_client.security import redact_url

from .arbitrage.execution import ExecutionPolicy, min_tradable_base
from .arbitrage.pair import ArbPair, Leg, common_step

__all__ = ["StrategyError", "connect_runners", "size_problem", "start_command"]


class StrategyError(Exception):
    """A one-line reason the strategy cannot run (no runner, unknown instrument, size below the
    minimum...): ``strategy: error: …`` and exit status 2."""


def start_command(exchange: str, redis_url: str, name: str = "") -> str:
    """The command that starts the runner the strategy waits for (``--redis-url`` only when the
    runner would not find this Redis by itself)."""
    parts = ["runner", exchange]
    if name and name != exchange:
        parts += ["--name", name]
    if redis_url != (os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL):
        parts += ["--redis-url", redact_url(redis_url)]
    return " ".join(parts)


_FATAL = (AmbiguousRoute, DiscoveryError, ProtocolMismatch)


async def _wait(
    router: ZmqRouter, target: str | Exchange, command: str, timeout_s: float, say: Callable[[str], None], label: str
) -> None:
    """Wait for ``target`` (a runner name or an exchange); say so once if it is not there yet.
    Several runners for an exchange, Redis not answering or another protocol version: raised at once."""
    try:
        await router.wait_for(target, timeout_s=0.0)
        return
    except _FATAL:
        raise
    except (TimeoutError, CoreApiError):
        if timeout_s <= 0:
            raise
    where = redact_url(router.redis_url)
    say(f"waiting up to {timeout_s:g}s for {label} to register in {where} (start it with `{command}`)")
    await router.wait_for(target, timeout_s=timeout_s)


async def connect_runners(
    router: ZmqRouter,
    exchanges: Iterable[Exchange],
    named: Iterable[str],
    *,
    timeout_s: float,
    say: Callable[[str], None],
) -> dict[Exchange, str]:
    """The runner name serving each exchange, once each is registered and answering."""
    wanted = list(exchanges)
    out: dict[Exchange, str] = {}
    for name in named:
        ex = await _named_runner(router, name, wanted, timeout_s, say)
        if ex in out:
            both = f"{out[ex]!r} and {name!r} both serve {ex.value}"
            raise StrategyError(f"--runner: {both}; name one runner per exchange")
        router.bind(ex, name)
        out[ex] = name
    for ex in wanted:
        if ex not in out:
            out[ex] = await _exchange_runner(router, ex, timeout_s, say)
    return out


async def _named_runner(
    router: ZmqRouter, name: str, wanted: list[Exchange], timeout_s: float, say: Callable[[str], None]
) -> Exchange:
    url = router.redis_url
    command = start_command(wanted[0].value if len(wanted) == 1 else "EXCHANGE", url, name)
    if name in router.records:
        _check_serves(name, router.records[name].exchange, wanted)
    try:
        await _wait(router, name, command, timeout_s, say, f"runner {name!r}")
    except _FATAL as exc:
        raise StrategyError(_fatal_line(exc, url)) from None
    except (TimeoutError, CoreApiError):
        raise StrategyError(
            f"no runner named {name!r} registered in {redact_url(url)} after {timeout_s:g}s; "
            f"start it with `{command}`, or check `runner ls`"
        ) from None
    ex = router.records[name].exchange
    _check_serves(name, ex, wanted)
    return ex


def _check_serves(name: str, ex: Exchange, wanted: list[Exchange]) -> None:
    if ex not in wanted:
        trades = ", ".join(e.value for e in wanted)
        raise StrategyError(f"--runner {name}: it serves {ex.value}, and this strategy trades {trades}")


def _fatal_line(exc: Exception, url: str) -> str:
    if isinstance(exc, DiscoveryError):
        return f"Redis unreachable at {redact_url(url)} ({exc})"
    return str(exc)


async def _exchange_runner(router: ZmqRouter, ex: Exchange, timeout_s: float, say: Callable[[str], None]) -> str:
    url = router.redis_url
    command = start_command(ex.value, url)
    try:
        await _wait(router, ex, command, timeout_s, say, f"a {ex.value} runner")
        return router.runner_for(ex)
    except AmbiguousRoute:
        names = sorted(n for n, r in router.records.items() if r.exchange is ex)
        raise StrategyError(
            f"{len(names)} {ex.value} runners are registered ({', '.join(names)}): pick one with --runner NAME"
        ) from None
    except _FATAL as exc:
        raise StrategyError(_fatal_line(exc, url)) from None
    except (TimeoutError, CoreApiError):
        raise StrategyError(
            f"no {ex.value} runner registered in {redact_url(url)} after {timeout_s:g}s; start one with `{command}`"
        ) from None


def _leg_minimum(leg: Leg, price: Decimal | None, order_type: OrderType) -> tuple[Decimal, str]:
    """The smallest base size ``leg`` takes, and why (its filters in words)."""
    inst = leg.instrument
    lo = inst.market_filters()[1] if order_type is OrderType.MARKET else inst.min_qty
    why = f"min qty {_plain(lo)}"
    if inst.min_notional > 0 and price:
        why += f", min notional {_plain(inst.min_notional)} {inst.quote} at {_plain(price)}"
    return min_tradable_base(leg, price or Decimal(0), order_type), why


def size_problem(pair: ArbPair, size: Decimal, prices: Mapping[str, Decimal], execution: ExecutionPolicy) -> str | None:
    """Why ``size`` can never trade on ``pair`` (None when it can): a leg's minimum quantity or
    notional (at ``prices``, keyed by instrument key text) is above it once it is on the pair's grid."""
    order_type = execution.taker_type
    mins = [(leg, *_leg_minimum(leg, prices.get(str(leg.instrument.key)), order_type)) for leg in pair.legs]
    step = common_step(pair.common_base_step(OrderType.LIMIT), pair.common_base_step(OrderType.MARKET))
    smallest = max(m for _, m, _ in mins)
    smallest = round_up(smallest, step) if step > 0 else smallest
    fitted = execution.size(pair, size).base
    if fitted >= smallest:
        return None
    base = pair.a.instrument.base
    legs = "; ".join(f"{leg.instrument.key}: {why}" for leg, _, why in mins)
    shown = f"{_plain(size)} ({_plain(fitted)} on both legs' step)" if fitted != size else _plain(size)
    return f"size {shown} is below the smallest size this pair trades: {_plain(smallest)} {base} ({legs})"


def _plain(value: Decimal) -> str:
    """``0.00200`` → ``0.002``, ``100`` stays ``100`` (no exponent)."""
    return to_plain(value.normalize())
