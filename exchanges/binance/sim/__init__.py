"""The offline Binance venue: Binance's protocol (spot + USD-M) over the simulator engine.

Start it in process with :class:`BinanceSim` (``async with BinanceSim(port_base=N) as sim``)
or from the shell with ``python -m exchanges.sim binance --port-base N``; see
``docs/simulator.md``.
"""

from .options import ACCOUNT_ID, DEFAULT_API_KEY, DEFAULT_API_SECRET, BinanceSimOptions
from .sim import BinanceSim, ThreadedBinanceSim, build_config

__all__ = [
    "ACCOUNT_ID",
    "BinanceSim",
    "BinanceSimOptions",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "ThreadedBinanceSim",
    "build_config",
]
