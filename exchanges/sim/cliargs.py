"""What every venue command of ``python -m exchanges.sim`` checks its arguments with.

:class:`CliError` (a bad argument: one line, exit status 2) and :class:`StartError` (the venue
could not run, e.g. a taken port: one line, exit status 1) are what ``exchanges.sim.cli.main``
turns into ``error: ...`` lines; the parsers raise them naming the option.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from exchanges.sim.overrides import ConfigOverrides

__all__ = [
    "CliError",
    "StartError",
    "as_cli_errors",
    "check_positive",
    "config_overrides",
    "given",
    "parse_balances",
    "parse_log_level",
    "parse_symbols",
]


class CliError(Exception):
    """A bad argument: one line to the user, exit status 2."""


class StartError(CliError):
    """The venue could not run (e.g. its port is taken): one line, exit status 1."""


def parse_balances(text: str, option: str) -> dict[str, Decimal]:
    """``USDT=100000,BTC=1`` → {"USDT": Decimal("100000"), "BTC": Decimal("1")}."""
    out: dict[str, Decimal] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        asset, sep, amount = part.partition("=")
        asset = asset.strip().upper()
        if not sep or not asset.isalnum():
            raise CliError(f"{option}: expected ASSET=AMOUNT[,ASSET=AMOUNT...], got {part!r}")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise CliError(f"{option}: {amount.strip()!r} is not a number (in {part!r})") from None
        if not value.is_finite() or value < 0:
            raise CliError(f"{option}: amount for {asset} must be a non-negative number, got {amount.strip()!r}")
        out[asset] = value
    if not out:
        raise CliError(f"{option}: no balances given")
    return out


def parse_symbols(text: str) -> list[str]:
    symbols = [s.strip().upper() for s in text.replace(" ", ",").split(",") if s.strip()]
    if not symbols:
        raise CliError("--symbols: no symbol given")
    return symbols


def parse_log_level(text: str) -> int:
    """``--log-level`` (DEBUG, INFO, ...; any case) → the logging level."""
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise CliError(f"--log-level: unknown level {text!r}")
    return level


def check_positive(value: float | None, option: str) -> None:
    """CliError unless ``value`` (None: not given) is positive."""
    if value is not None and value <= 0:
        raise CliError(f"{option} must be positive, got {value}")


def config_overrides(
    *,
    seed: int,
    symbols: str | None,
    step_ms: int | None,
    funding_interval: float | None,
    balances: str | None,
    futures_balances: str | None,
) -> ConfigOverrides:
    """The config options every venue command takes, parsed (``--funding-interval`` in seconds)."""
    return ConfigOverrides(
        seed=seed,
        symbols=parse_symbols(symbols) if symbols else None,
        step_ms=step_ms,
        funding_interval_ms=int(funding_interval * 1000) if funding_interval is not None else None,
        balances=parse_balances(balances, "--balances") if balances else None,
        futures_balances=parse_balances(futures_balances, "--futures-balances") if futures_balances else None,
    )


def given(**values: object) -> dict[str, object]:
    """The keyword arguments that are not None (options left to their defaults are left out)."""
    return {name: value for name, value in values.items() if value is not None}


@contextlib.contextmanager
def as_cli_errors() -> Iterator[None]:
    """A ValueError raised inside (a bad option value found while building the venue) → CliError."""
    try:
        yield
    except ValueError as exc:
        raise CliError(str(exc)) from None
