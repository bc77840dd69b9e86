"""What every venue command of ``python -m exchanges.sim`` checks its arguments with.

:class:`CliError` (a bad argument: one line, exit status 2) and :class:`StartError` (the venue
could not run, e.g. a taken port: one line, exit status 1) are what ``exchanges.sim.cli.main``
turns into ``error: ...`` lines; the parsers raise them naming the option.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from exchanges.sim.overrides import ConfigOverrides
from exchanges.sim.tls import TlsFiles, default_tls_dir, local_tls, own_tls

__all__ = [
    "CLI_TLS",
    "CliError",
    "StartError",
    "TlsOptions",
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


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """``--tls``, ``--cert``/``--key`` and ``--data-dir`` as given on the command line."""

    tls: bool = False
    cert: Path | None = None
    key: Path | None = None
    data_dir: Path | None = None

    def check(self) -> None:
        """CliError when ``--cert`` comes without ``--key`` (or the reverse)."""
        if (self.cert is None) != (self.key is None):
            raise CliError("--cert and --key go together")

    def files(self, host: str) -> TlsFiles | None:
        """The certificate to serve (None: plain): yours, else the local CA's for ``host``
        (made on first use under ``<data dir>/sim-tls``; a failure to write it is a StartError)."""
        if self.cert is not None and self.key is not None:
            with as_cli_errors():
                return own_tls(self.cert, self.key)
        if not self.tls:
            return None
        folder = default_tls_dir(self.data_dir)
        try:
            return local_tls(folder, hosts=[host])
        except OSError as exc:
            raise StartError(f"cannot write the TLS certificate under {folder}: {exc.strerror}") from None


# Set by ``python -m exchanges.sim``'s root options, read by ``exchanges.sim.serve.run``.
CLI_TLS: ContextVar[TlsOptions | None] = ContextVar("CLI_TLS", default=None)


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


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments that are not None (options left to their defaults are left out),
    to pass on as ``**given(...)`` to an options class."""
    return {name: value for name, value in values.items() if value is not None}


@contextlib.contextmanager
def as_cli_errors() -> Iterator[None]:
    """A ValueError raised inside (a bad option value found while building the venue) → CliError."""
    try:
        yield
    except ValueError as exc:
        raise CliError(str(exc)) from None
