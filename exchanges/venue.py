"""How the runner opens a venue, whatever the exchange.

Each adapter package provides ``exchanges/<name>/venue.py`` with a module-level object named
``FACTORY`` that satisfies :class:`VenueFactory`. The runner finds it by exchange name
(:func:`venue_factory`) and never imports a venue package directly, so adding an exchange is
adding a package.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, cast

from strategy_client.model import Exchange

from .base import ExchangeAdapter
from .credentials import Credentials

__all__ = ["VenueFactory", "venue_factory", "available_exchanges"]


class VenueFactory(Protocol):
    exchange: Exchange
    sim_ports: int  # consecutive ports the offline venue listens on
    credential_env_prefix: str  # e.g. "BINANCE" → BINANCE_API_KEY / BINANCE_API_SECRET
    needs_passphrase: bool

    def embedded_sim(
        self, *, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AbstractAsyncContextManager[ExchangeAdapter]:
        """Start the offline venue in this process; yield an adapter connected to it."""
        ...

    def external_sim(self, host: str, port: int, credentials: Credentials | None) -> ExchangeAdapter:
        """An adapter for an offline venue already running at ``host:port`` (its first port)."""
        ...

    def remote(self, venue: str, credentials: Credentials) -> ExchangeAdapter:
        """An adapter for the real venue: ``venue`` is ``testnet`` or ``live``."""
        ...


def available_exchanges() -> list[Exchange]:
    out = []
    for ex in Exchange:
        try:
            importlib.import_module(f"exchanges.{ex.value}.venue")
        except ModuleNotFoundError:
            continue
        out.append(ex)
    return out


def venue_factory(exchange: Exchange) -> VenueFactory:
    """The factory of ``exchange``; LookupError names the exchanges that have one."""
    try:
        module = importlib.import_module(f"exchanges.{exchange.value}.venue")
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith(f"exchanges.{exchange.value}"):
            raise
        have = ", ".join(e.value for e in available_exchanges()) or "none"
        raise LookupError(f"exchange {exchange.value!r} has no adapter (available: {have})") from None
    return cast(VenueFactory, module.FACTORY)
