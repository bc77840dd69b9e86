"""The keyword overrides every in-process venue takes on top of its ``SimConfig``.

``BinanceSim``, ``BybitSim`` and ``OkxSim`` (and each dialect's ``build_config``) accept the same
``seed``, ``symbols``, ``step_ms``, ``funding_interval_ms``, ``balances`` and ``futures_balances``;
:func:`override_config` checks and applies them in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TypedDict

import msgspec

from exchanges.sim.engine import SimConfig, SymbolSpec

__all__ = ["ConfigOverrides", "override_config"]


class ConfigOverrides(TypedDict, total=False):
    """Keyword overrides of a venue's config (None or absent: keep the config's value)."""

    seed: int | None
    symbols: Sequence[str] | None
    step_ms: int | None
    funding_interval_ms: int | None
    balances: Mapping[str, Decimal] | None
    futures_balances: Mapping[str, Decimal] | None


def override_config(
    cfg: SimConfig,
    *,
    known_symbols: Iterable[SymbolSpec] = (),
    seed: int | None = None,
    symbols: Sequence[str] | None = None,
    step_ms: int | None = None,
    funding_interval_ms: int | None = None,
    balances: Mapping[str, Decimal] | None = None,
    futures_balances: Mapping[str, Decimal] | None = None,
) -> SimConfig:
    """``cfg`` with the given overrides; ValueError names a bad one.

    ``symbols`` picks among ``cfg.symbols``; ``known_symbols`` is what the error lists as known
    when ``cfg`` has none.
    """
    changes: dict[str, object] = {}
    if seed is not None:
        changes["seed"] = seed
    if symbols:
        wanted = [s.upper() for s in symbols]
        known = {s.symbol for s in cfg.symbols} or {s.symbol for s in known_symbols}
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise ValueError(f"unknown symbol(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        changes["symbols"] = tuple(s for s in cfg.symbols if s.symbol in wanted)
    if step_ms is not None:
        if step_ms <= 0:
            raise ValueError(f"step interval must be positive, got {step_ms} ms")
        changes["step_interval_ms"] = step_ms
    if funding_interval_ms is not None:
        if funding_interval_ms <= 0:
            raise ValueError(f"funding interval must be positive, got {funding_interval_ms} ms")
        changes["funding_interval_ms"] = funding_interval_ms
    if balances is not None:
        changes["starting_balances"] = dict(balances)
    if futures_balances is not None:
        changes["futures_starting_balance"] = dict(futures_balances)
    return msgspec.structs.replace(cfg, **changes) if changes else cfg
