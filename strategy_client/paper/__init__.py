"""Paper execution: orders filled locally against live books, with fees, partial fills and funding.

One pure engine (:class:`PaperVenue`) serves both places that paper-trade: the runner's
``--mode paper`` (wrapping the venue adapter) and the strategies' ``--paper`` execution
(wrapping a CoreApi). It does no I/O and reads no clock: callers pass books, funding rates and
timestamps in, and get :class:`PaperUpdate` records out. Fees, positions, realised PnL, funding
and margin come from :mod:`strategy_client.model.ledger`, the core the offline venues' engine
settles with, so paper and simulator runs of the same fills agree.
"""

from .config import PaperConfig
from .errors import PaperRejected, RejectCode
from .venue import OrderChange, PaperUpdate, PaperVenue

__all__ = ["PaperConfig", "PaperRejected", "RejectCode", "PaperVenue", "PaperUpdate", "OrderChange"]
