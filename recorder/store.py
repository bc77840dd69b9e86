"""The recorder's output: Parquet files under any fsspec URL, each closed atomically.

A file is written under a temporary name in its partition directory (``.<name>.inprogress``:
a leading dot, which pyarrow's dataset reader skips) and renamed to ``<name>.parquet`` once it is
complete, so a ``*.parquet`` file is always whole. A crash mid-write leaves only a temporary file;
the next start deletes those (:meth:`ParquetStore.open`).
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Sequence

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.spec import AbstractFileSystem

from .rows import Part, Row

__all__ = ["TEMP_SUFFIX", "ParquetStore", "StoreError"]

TEMP_SUFFIX = ".inprogress"


class StoreError(Exception):
    """The output cannot be used (unknown protocol, not writable): the message says why."""


class ParquetStore:
    def __init__(self, url: str, *, compression: str = "zstd", row_group_rows: int = 100_000) -> None:
        self.url = url
        self.compression = compression
        self.row_group_rows = row_group_rows
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise StoreError(f"cannot use {url!r} as the output: {exc}") from None
        self.fs: AbstractFileSystem = fs
        self.root: str = root.rstrip("/") or "/"
        self._dirs: set[str] = set()

    def open(self) -> int:
        """Check the output is writable (a probe file written and deleted) and delete the
        temporary files a crash left behind; returns how many were deleted."""
        fs = self.fs
        try:
            if fs.exists(self.root) and not fs.isdir(self.root):
                raise StoreError(f"cannot write to {self.url!r}: it is a file, not a directory")
            fs.makedirs(self.root, exist_ok=True)
            probe = posixpath.join(self.root, f".probe-{uuid.uuid4().hex}{TEMP_SUFFIX}")
            with fs.open(probe, "wb") as f:
                f.write(b"tradebus recorder probe")
            fs.rm(probe)
            leftovers = [p for p in fs.find(self.root) if posixpath.basename(p).endswith(TEMP_SUFFIX)]
            for path in leftovers:
                fs.rm(path)
        except OSError as exc:
            raise StoreError(f"cannot write to {self.url!r}: {exc}") from None
        return len(leftovers)

    def directory(self, part: Part, day: str) -> str:
        return f"{self.root}/venue={part.venue}/instrument={part.instrument}/channel={part.channel}/date={day}"

    def write(self, part: Part, day: str, schema: pa.Schema, rows: Sequence[Row], first_ns: int) -> tuple[str, int]:
        """Write ``rows`` as one complete file; returns its path and size in bytes. Runs in a
        worker thread (pyarrow releases the GIL while it encodes and compresses)."""
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        table = pa.Table.from_arrays(
            [pa.array(col, type=field.type) for col, field in zip(columns, schema, strict=True)], schema=schema
        )
        directory = self.directory(part, day)
        if directory not in self._dirs:
            self.fs.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)
        name = f"{part.runner}-{first_ns}-{uuid.uuid4().hex[:8]}"
        temp = f"{directory}/.{name}{TEMP_SUFFIX}"
        final = f"{directory}/{name}.parquet"
        with self.fs.open(temp, "wb") as f:
            pq.write_table(table, f, compression=self.compression, row_group_size=self.row_group_rows)
        self.fs.mv(temp, final)
        return final, int(self.fs.size(final))
