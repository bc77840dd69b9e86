"""Serve an offline venue from the shell until Ctrl-C / SIGTERM: the part of every venue
command of ``python -m exchanges.sim`` that does not depend on the venue.

:func:`run` sets up logging and runs :func:`serve`: start the venue (a taken port or another
listen failure is a one-line :class:`~exchanges.sim.cliargs.StartError`), print its endpoints
and credentials, wait for SIGINT/SIGTERM, stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping
from typing import Any

from exchanges.sim.cliargs import CLI_TLS, StartError
from exchanges.sim.runtime import SimHost
from exchanges.sim.server import PortInUse

__all__ = ["run", "serve"]


def run(
    sim: SimHost[Any, Any], *, level: int, venue: str, listening: str, extra: Mapping[str, str] | None = None
) -> None:
    """Log at ``level`` to stderr and :func:`serve` ``sim`` on a new event loop (over TLS when
    the command line's ``--tls``/``--cert`` asked for it)."""
    options = CLI_TLS.get()
    tls = options.files(sim.host) if options is not None else None
    if tls is not None:
        sim.use_tls(tls)
        extra = {**(extra or {}), "CA certificate": f"{tls.ca}  (clients: SSL_CERT_FILE / REQUESTS_CA_BUNDLE)"}
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    asyncio.run(serve(sim, venue=venue, listening=listening, extra=extra))


async def serve(sim: SimHost[Any, Any], *, venue: str, listening: str, extra: Mapping[str, str] | None = None) -> None:
    """Start ``sim``, print what it serves, and serve until SIGINT/SIGTERM.

    ``venue`` names it in the banner (``offline Binance venue ...``), ``listening`` says where
    it listens in a listen error (``127.0.0.1:9000-9001``), ``extra`` adds credential lines
    after the API key and secret (OKX's passphrase).
    """
    try:
        await sim.start()
    except PortInUse as exc:
        raise StartError(f"{exc.strerror}; pick another --port-base") from None
    except OSError as exc:
        raise StartError(f"cannot listen on {listening}: {exc.strerror}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    symbols = sorted({s.symbol for s in sim.config.symbols})
    credentials = {"api key": sim.api_key, "api secret": sim.api_secret, **(extra or {})}
    lines = [
        f"offline {venue} venue (seed {sim.config.seed}, symbols {', '.join(symbols)})",
        *(f"  {name:<16} {value}" for name, value in [*sim.endpoints().items(), *credentials.items()]),
        "Ctrl-C stops it.",
    ]
    print("\n".join(lines), flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()
        print("stopped", flush=True)
