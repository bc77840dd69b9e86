"""The offline Bybit venue: Bybit v5's protocol (spot + linear, unified account) over the simulator engine.

Start it in process with :class:`BybitSim` (``async with BybitSim(port=N) as sim``) or from the
shell with ``python -m exchanges.sim bybit --port-base N``; see ``docs/simulator-bybit.md``.
"""

from .options import ACCOUNT_ID, DEFAULT_API_KEY, DEFAULT_API_SECRET, BybitSimOptions
from .sim import BybitSim, ThreadedBybitSim, build_config
from .specs import BYBIT_SYMBOLS, bybit_config

__all__ = [
    "ACCOUNT_ID",
    "BYBIT_SYMBOLS",
    "BybitSim",
    "BybitSimOptions",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "ThreadedBybitSim",
    "build_config",
    "bybit_config",
]
