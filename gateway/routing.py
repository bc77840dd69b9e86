"""Which runner a request goes to: by name, or by the exchange (as the client library routes)."""

from __future__ import annotations

from strategy_client import ZmqRouter
from strategy_client.model import Exchange, InstrumentKey

from .problems import ApiError

__all__ = ["runner_for", "runners_matching", "as_exchange_name"]


def as_exchange_name(text: str) -> Exchange:
    try:
        return Exchange(text.lower())
    except ValueError:
        known = ", ".join(e.value for e in Exchange)
        raise ApiError("bad_params", f"unknown exchange {text!r} (known: {known})") from None


def runner_for(router: ZmqRouter, exchange: Exchange, runner: str | None = None) -> str:
    """The runner named ``runner`` (it must serve ``exchange``), else the one runner of the exchange."""
    records = router.runners()
    if runner:
        rec = records.get(runner)
        if rec is None:
            raise ApiError("not_found", f"no runner named {runner!r} is registered")
        if rec.exchange is not exchange:
            raise ApiError("bad_params", f"runner {runner!r} serves {rec.exchange.value}, not {exchange.value}")
        return runner
    names = sorted(n for n, r in records.items() if r.exchange is exchange)
    if not names:
        raise ApiError("no_runner", f"no runner for {exchange.value} is registered")
    if len(names) > 1:
        raise ApiError(
            "ambiguous_route",
            f"several runners serve {exchange.value} ({', '.join(names)}): name one with runner=",
        )
    return names[0]


def runners_matching(
    router: ZmqRouter, *, runner: str | None = None, exchange: str | None = None, key: InstrumentKey | None = None
) -> list[str]:
    """Runners selected by name, exchange or instrument (none given: every runner)."""
    records = router.runners()
    if runner:
        if runner not in records:
            raise ApiError("not_found", f"no runner named {runner!r} is registered")
        return [runner]
    want = key.exchange if key is not None else (as_exchange_name(exchange) if exchange else None)
    return sorted(n for n, r in records.items() if want is None or r.exchange is want)
