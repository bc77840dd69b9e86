"""ccxt instances (sync, async, ccxt.pro) pointed at an offline venue: base URLs changed only."""

from __future__ import annotations

from typing import Any

from exchanges.binance.sim import BinanceSim
from exchanges.bybit.sim import BybitSim
from exchanges.okx.sim import OkxSim
from tests.sim.binance.ccxt_urls import point_at_sim

__all__ = ["point"]


def _bybit(ex: Any, sim: BybitSim) -> Any:
    for name in list(ex.urls["api"]):
        if name != "ws":
            ex.urls["api"][name] = sim.urls.rest
    ws = ex.urls["api"].get("ws")
    if isinstance(ws, dict):
        ws["public"]["spot"] = sim.urls.public_spot
        ws["public"]["linear"] = sim.urls.public_linear
        ws["private"]["spot"]["unified"] = ws["private"]["contract"] = sim.urls.private
        ws["private"]["trade"] = sim.urls.trade
    return ex


def _okx(ex: Any, sim: OkxSim) -> Any:
    ex.urls["api"]["rest"] = sim.urls.rest
    if "ws" in ex.urls["api"]:
        ex.urls["api"]["ws"] = sim.urls.ws_public.removesuffix("/public")
    return ex


def point(ex: Any, sim: Any) -> Any:
    """``ex`` (any ccxt class of the venue) with its base URLs on ``sim``."""
    if isinstance(sim, BinanceSim):
        return point_at_sim(ex, sim.urls)
    if isinstance(sim, BybitSim):
        return _bybit(ex, sim)
    if isinstance(sim, OkxSim):
        return _okx(ex, sim)
    raise TypeError(type(sim).__name__)
