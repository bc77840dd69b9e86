"""The recorder: runner market data (books, funding, trades, tickers, bars) to Parquet under any fsspec URL.

``record --out PATH`` (recorder/cli.py) runs it; docs/market-data.md#recording describes the
layout, the schemas and what a crash can lose. Imports only ``strategy_client`` of ours.
"""

from .app import Recorder, RecorderConfig, RecorderStats
from .read import channel_files, open_channel
from .rows import BARS, BOOK, FUNDING, GAPS, SCHEMAS, TICKERS, TRADES
from .store import ParquetStore, StoreError
from .timeseries import TimeseriesError, TimeseriesSink

__all__ = [
    "BOOK",
    "FUNDING",
    "TRADES",
    "TICKERS",
    "BARS",
    "GAPS",
    "SCHEMAS",
    "ParquetStore",
    "Recorder",
    "RecorderConfig",
    "RecorderStats",
    "StoreError",
    "TimeseriesError",
    "TimeseriesSink",
    "channel_files",
    "open_channel",
]
