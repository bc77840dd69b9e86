"""Reading a recording back: one channel of it as a ``pyarrow.dataset.Dataset``.

The channels have different schemas and sit side by side under each instrument, so a dataset over
the whole root would take one channel's schema for all; :func:`open_channel` takes the files of
one channel only (temporary files never: they are not ``*.parquet``), with the partition values
(``venue``, ``instrument``, ``channel``, ``date``) as columns.
"""

from __future__ import annotations

import fsspec
import pyarrow.dataset as ds

from .rows import SCHEMAS

__all__ = ["channel_files", "open_channel"]


def channel_files(url: str, channel: str) -> list[str]:
    """The complete files of ``channel`` (``book``, ``funding``, ``trades``, ``tickers``, ``bars``,
    ``gaps``) under ``url``, sorted."""
    if channel not in SCHEMAS:
        raise ValueError(f"unknown channel {channel!r} (known: {', '.join(SCHEMAS)})")
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    return sorted(fs.glob(f"{root}/venue=*/instrument=*/channel={channel}/date=*/*.parquet"))


def open_channel(url: str, channel: str) -> ds.Dataset:
    """``channel`` of the recording at ``url`` (an empty dataset of the channel's schema when
    nothing is recorded yet)."""
    fs, root = fsspec.core.url_to_fs(url)
    files = channel_files(url, channel)
    if not files:
        return ds.dataset([], schema=SCHEMAS[channel], format="parquet")
    return ds.dataset(
        files,
        format="parquet",
        filesystem=fs,
        partitioning=ds.partitioning(flavor="hive"),
        partition_base_dir=root.rstrip("/"),
    )
