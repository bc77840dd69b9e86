"""The intent log: a pre-sized, memory-mapped file in front of the SQLite intent insert.

``Journal.write_intent`` must make an order's intent durable before the order leaves. On SQLite
with ``synchronous=normal`` "durable" means: it survives a crash of the process (not a power
loss). A dirty page of a *shared file mapping* gives the same guarantee — it belongs to the
kernel's page cache, so it reaches the file even if the process is killed with SIGKILL the next
instruction — and writing it costs a memory copy, no system call. The writer task then inserts
the intent into SQLite in its next batch and advances the log's *imported* offset; at the next
open whatever lies past that offset is imported (insert-or-ignore) before anything is read.

Layout (little endian)::

    header page (4096 bytes): magic b"TBINTLG1" | u32 version | u32 epoch | u64 imported
    records from offset 4096:  u32 length | u32 epoch | u32 crc32(epoch, payload) | payload

A record is written with one copy (header and payload built first, then one store into the
mapping: fewer steps on the order path than writing the body and then the length word). A
process killed in the middle of that copy leaves a *torn* last record: a header whose CRC does
not match the bytes after it (the copy did not finish), or this epoch's bytes with no length
word. A record passes its CRC only if every byte of its payload is the one intended — whatever
order the copy stored them in. A torn record is counted and ignored — its ``write_intent`` had
not returned, so its order was not sent. A damaged record with records of this epoch after it is corruption: the
valid prefix is imported, the rest counted, the file copied aside. When everything appended is imported the log starts
over at offset 4096 with the next epoch, so records of an older epoch left behind read as the
end, and the writer touches only the first pages — kept warm. The file is allocated in full
(written with zeros) at creation and its pages are touched at open, so an append never needs
a new block (no SIGBUS on a full disk) nor maps a new page.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import mmap
import os
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

__all__ = ["DEFAULT_LOG_SIZE", "IntentLog", "IntentLogError", "Recovery"]

log = logging.getLogger("tradebus.journal")

DEFAULT_LOG_SIZE = 4 * 1024 * 1024
MAGIC = b"TBINTLG1"
VERSION = 1
DATA = 4096  # records start after the header page
_PAGE = mmap.PAGESIZE
_HEADER = struct.Struct("<8sIIQ")  # magic, version, epoch, imported
_EPOCH_AT = 12
_IMPORTED_AT = 16
_REC = struct.Struct("<III")  # length, epoch, crc
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class IntentLogError(Exception):
    """The log cannot be created, allocated, locked or mapped (the journal falls back to the
    synchronous insert)."""


class Recovery(msgspec.Struct, kw_only=True):
    """What :meth:`IntentLog.recover` found past the imported offset."""

    payloads: list[bytes] = msgspec.field(default_factory=list)
    torn: int = 0  # a last record killed mid-write (its write_intent never returned)
    corrupt: int = 0  # records after a damaged one (not imported; the file was moved aside)
    moved_to: str = ""  # where a corrupt log was moved


def _seed(epoch: int) -> int:
    return zlib.crc32(_U32.pack(epoch))


class IntentLog:
    """One process's intent log (an exclusive ``flock`` keeps a second process out)."""

    def __init__(self, path: Path, fd: int, mm: mmap.mmap) -> None:
        self.path = path
        self._fd = fd
        self._mm = mm
        self._size = len(mm)
        _, _, epoch, imported = _HEADER.unpack_from(mm, 0)
        self._epoch = int(epoch)
        self._seed = _seed(self._epoch)
        self._imported = int(imported)
        self._pos = int(imported)
        self.resets = 0
        self.full = 0  # appends refused because the log had no room

    # ------------------------------------------------------------------------- open / close

    @classmethod
    def open(cls, path: Path, size: int = DEFAULT_LOG_SIZE) -> IntentLog:
        """Open (creating and allocating in full) the log at ``path``. Raises
        :class:`IntentLogError` with the reason when it cannot."""
        if size < DATA + _PAGE or size % _PAGE:
            raise IntentLogError(f"intent log size {size}: a multiple of {_PAGE} bytes, at least {DATA + _PAGE}")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise IntentLogError(f"intent log {path} cannot be opened: {exc.strerror}") from exc
        try:
            return cls._map(path, fd, size)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _map(cls, path: Path, fd: int, size: int) -> IntentLog:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise IntentLogError(f"intent log {path} is in use by another process") from exc
            raise IntentLogError(f"intent log {path} cannot be locked: {exc.strerror}") from exc
        created = False
        try:
            have = os.fstat(fd).st_size
            if have == 0:
                created = True
                _allocate(fd, size)
                have = size
            mm = mmap.mmap(fd, have, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            if created:  # give back what a partial allocation took (a full disk stays usable)
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    path.unlink()
            raise IntentLogError(f"intent log {path} cannot be allocated or mapped: {exc.strerror}") from exc
        if have == size and bytes(mm[:8]) == b"\0" * 8:
            _HEADER.pack_into(mm, 0, MAGIC, VERSION, 1, DATA)  # a new file
        return cls(path, fd, mm)

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self._mm.close()
        finally:
            os.close(self._fd)  # releases the flock
            self._fd = -1

    @property
    def size(self) -> int:
        return self._size

    @property
    def imported(self) -> int:
        return self._imported

    @property
    def position(self) -> int:
        return self._pos

    @property
    def epoch(self) -> int:
        return self._epoch

    # ------------------------------------------------------------------------- the hot path

    def append(self, payload: bytes) -> int:
        """Write one record; returns its end offset (give it to :meth:`mark_imported` once the
        record is in SQLite), or -1 when the log has no room (nothing written). No system call:
        one memory copy into pages mapped and touched at open."""
        pos = self._pos
        end = pos + 12 + len(payload)
        if end > self._size:
            self.full += 1
            return -1
        self._mm[pos:end] = self._record(payload)
        self._pos = end
        return end

    def _record(self, payload: bytes) -> bytes:
        return _REC.pack(len(payload), self._epoch, zlib.crc32(payload, self._seed)) + payload

    def rehearse(self, payload: bytes) -> None:
        """What :meth:`append` does with ``payload``, minus the store: the record is built and
        the byte where it would start is read and written back unchanged (its page and cache
        line touched). Nothing in the log changes (``exchange_runner/warmth.py``)."""
        self._record(payload)
        pos = self._pos
        if pos < self._size:
            mm = self._mm
            mm[pos] = mm[pos]

    def mark_imported(self, end: int) -> None:
        """Records up to ``end`` are in SQLite. When that is everything, start over (next epoch)."""
        if end >= self._pos:
            self._restart()
        else:
            _U64.pack_into(self._mm, _IMPORTED_AT, end)
            self._imported = end

    def _restart(self) -> None:
        # epoch first: a kill between the two writes leaves a stale imported offset whose
        # records belong to the old epoch, which reads as the end
        self._epoch = (self._epoch + 1) & 0xFFFFFFFF or 1
        self._seed = _seed(self._epoch)
        _U32.pack_into(self._mm, _EPOCH_AT, self._epoch)
        _U64.pack_into(self._mm, _IMPORTED_AT, DATA)
        self._imported = self._pos = DATA
        self.resets += 1

    def touch(self) -> None:
        """Write-touch every page (at open): an append then never maps a new page."""
        mm = self._mm
        for off in range(0, self._size, _PAGE):
            mm[off] = mm[off]

    # ------------------------------------------------------------------------- recovery

    def pending(self) -> bool:
        """True when records past the imported offset (or a damaged header) wait for recover()."""
        return self._header_bad() or next(self._scan(self._imported), None) is not None

    def _header_bad(self) -> bool:
        magic, version, _, imported = _HEADER.unpack_from(self._mm, 0)
        return magic != MAGIC or version != VERSION or not DATA <= imported <= self._size

    def recover(self) -> Recovery:
        """The payloads of valid records past the imported offset, in order. Does not change the
        log: import them, then :meth:`reset` (or :meth:`set_aside` if ``corrupt``)."""
        found = Recovery()
        if self._header_bad():
            found.corrupt = 1
            return found
        for kind, payload in self._scan(self._imported):
            if kind == "ok":
                found.payloads.append(payload)
            elif kind == "torn":
                found.torn += 1
            else:
                found.corrupt += 1
        if found.corrupt:
            found.corrupt += 1  # the damaged record itself
        return found

    def _scan(self, start: int) -> Iterator[tuple[str, bytes]]:
        """``("ok", payload)`` per valid record from ``start``; a damaged record ends the scan as
        ``("torn", b"")`` when nothing of this epoch follows it, else every record from it on is
        ``("corrupt", b"")``."""
        mm, size, epoch, seed = self._mm, self._size, self._epoch, _seed(self._epoch)
        pos = start
        damaged = False
        while pos + 12 <= size:
            n, rec_epoch, crc = _REC.unpack_from(mm, pos)
            if rec_epoch != epoch or n == 0:
                if damaged or rec_epoch == epoch:  # this epoch's body without its length word: torn
                    yield "torn", b""
                return
            end = pos + 12 + n
            payload = bytes(mm[pos + 12 : end]) if end <= size else b""
            ok = end <= size and zlib.crc32(payload, seed) == crc
            if ok and not damaged:
                yield "ok", payload
            elif damaged:
                yield "corrupt", b""
            else:
                damaged = True
            if end > size:
                break
            pos = end
        if damaged:
            yield "torn", b""

    def reset(self) -> None:
        """Empty the log (after its records were imported)."""
        self._pos = self._imported
        self._restart()

    def set_aside(self) -> Path:
        """Copy a corrupt log to ``<path>.corrupt-<time>`` (kept for inspection), then empty
        and re-initialise this one."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        aside.write_bytes(bytes(self._mm))
        self._mm[:DATA] = b"\0" * DATA
        _HEADER.pack_into(self._mm, 0, MAGIC, VERSION, 1, DATA)
        self._epoch, self._seed, self._imported, self._pos = 1, _seed(1), DATA, DATA
        return aside


def _allocate(fd: int, size: int) -> None:
    """Write the whole file with zeros (real blocks: a later store into the mapping can never
    fail for want of space), then flush it to disk once."""
    chunk = b"\0" * (1 << 20)
    left = size
    while left:
        step = min(left, len(chunk))
        written = os.write(fd, chunk[:step])
        left -= written
    os.fsync(fd)
