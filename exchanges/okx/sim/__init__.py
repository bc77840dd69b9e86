"""The offline OKX venue: OKX v5's protocol (spot + USDT swaps) over the simulator engine.

Start it in process with :class:`OkxSim` (``async with OkxSim(port=N) as sim``) or from the
shell with ``python -m exchanges.sim okx --port-base N``; see ``docs/simulator-okx.md``.
"""

from .options import ACCOUNT_ID, DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_PASSPHRASE, UID, OkxSimOptions
from .sim import VENUE_NOISE_BPS, OkxSim, ThreadedOkxSim, build_config, default_config

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_PASSPHRASE",
    "OkxSim",
    "OkxSimOptions",
    "ThreadedOkxSim",
    "UID",
    "VENUE_NOISE_BPS",
    "build_config",
    "default_config",
]
