"""The recorder: runner market data (books, funding) to Parquet under any fsspec URL.

``record --out PATH`` (recorder/cli.py) runs it; docs/market-data.md#recording describes the
layout, the schemas and what a crash can lose. Imports only ``strategy_client`` of ours.
"""

from .app import Recorder, RecorderConfig, RecorderStats
from .read import channel_files, open_channel
from .rows import BOOK, FUNDING, GAPS, SCHEMAS
from .store import ParquetStore, StoreError

__all__ = [
    "BOOK",
    "FUNDING",
    "GAPS",
    "SCHEMAS",
    "ParquetStore",
    "Recorder",
    "RecorderConfig",
    "RecorderStats",
    "StoreError",
    "channel_files",
    "open_channel",
]
