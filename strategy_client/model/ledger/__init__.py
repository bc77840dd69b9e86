"""The one ledger core: fills → positions → realised PnL → fees → funding, and open-order margin.

Both places that settle trades use it: the offline venues' engine (``exchanges/sim/engine``)
and paper trading (``strategy_client/paper``: the runner's ``--mode paper`` and the strategies'
``--paper``). The rules below are the venues' (Binance USDⓈ-M / spot, which Bybit and OKX
follow for these points); the simulator must stay faithful to them, and paper follows it, so a
paper run and a simulator run of the same fills give the same numbers.

* **Fees** are ``qty × price × rate`` for perps (in the margin asset) and spot sells (in the
  quote asset); a spot buy pays ``qty × rate`` in the base asset it receives. Nothing is
  rounded: amounts are exact Decimals and the venue dialects format them.
* **Positions** are one-way and signed (> 0 long). Adding moves the entry to the
  volume-weighted average; reducing realises ``(price − entry) × closed × sign(size)`` (before
  fees) and keeps the entry; a fill that flips closes the old position and opens the rest at
  the fill price. The wallet takes realised PnL minus the fee.
* **Funding** pays ``−size × mark × rate`` to each position at the settlement (a positive rate:
  longs pay shorts).
* **Margin** (cross, one-way): position IM = ``|size| × mark / leverage``; open orders of one
  symbol net against the position (on each side only what would not close it counts, valued at
  the side's average order price / leverage, and the larger side counts); an order needs the
  increase of that open-order IM from the available balance (fees not included).

Why here: the layering lets ``exchanges/`` import only ``strategy_client.model``, and paper
lives in ``strategy_client``; the model package is the one place both may import. This package
is pure arithmetic on the model's enums and Decimals — no I/O, no clock, no state beyond the
position it is handed — so it fits the model's "types and pure computation, no I/O" contract.
"""

from .fees import SpotDeltas, fee_amount, spot_deltas
from .funding import funding_payment
from .margin import Exposure, PositionMargin, added_order_margin, order_initial_margin, position_margin
from .position import NetPosition

__all__ = [
    "Exposure",
    "NetPosition",
    "PositionMargin",
    "SpotDeltas",
    "added_order_margin",
    "fee_amount",
    "funding_payment",
    "order_initial_margin",
    "position_margin",
    "spot_deltas",
]
