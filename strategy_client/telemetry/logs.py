"""Logging with loguru for every tradebus process: one setup, two formats, no secrets.

* **Human** (default): ``12:00:01.234 INFO    message  trace=…``, coloured on a terminal.
* **JSON lines** (``json=True``, the runners' ``--log-json``): one object per line for Loki
  (``ts``, ``level``, ``msg``, ``logger``, ``function``, ``line``, ``trace_id``, ``span_id``,
  the bound ``extra`` fields, ``exception``).

Every record gets ``trace_id``/``span_id`` of the current span when tracing is on (see
``tracing.py``), so a log line leads to its trace.

**Secrets.** :func:`register_secret` adds a value (API key, secret, passphrase, a password in a
URL) to a process-wide set. A loguru patcher replaces each registered value in every record's
message and string ``extra`` fields with ``<redacted>``, and the sinks installed here redact the
final text once more (tracebacks included; ``diagnose`` is off, so no variable values are
dumped). Values shorter than :data:`MIN_SECRET_LEN` are refused: redacting ``"abc"`` everywhere
would mangle logs without protecting anything.
"""

from __future__ import annotations

import re
import sys
import threading
import traceback
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

import msgspec
from loguru import logger

from strategy_client.model.rounding import to_plain

from .tracing import current_trace_ids

__all__ = [
    "REDACTED",
    "MIN_SECRET_LEN",
    "setup_logging",
    "register_secret",
    "clear_secrets",
    "redact",
    "redacting_patcher",
    "plain_decimals",
]

REDACTED = "<redacted>"
MIN_SECRET_LEN = 6

_lock = threading.Lock()
_secrets: set[str] = set()


class _Redaction:
    """The one pattern of every registered secret (None: nothing registered); process-wide."""

    pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> bool:
    """Never show ``value`` in a log again (from now on); False when too short to register."""
    if not value or len(value) < MIN_SECRET_LEN:
        return False
    with _lock:
        if value not in _secrets:
            _secrets.add(value)
            # longest first, so a secret that contains another is replaced whole
            alternatives = sorted(_secrets, key=len, reverse=True)
            _Redaction.pattern = re.compile("|".join(re.escape(s) for s in alternatives))
    return True


def clear_secrets() -> None:
    """Forget every registered value (tests)."""
    with _lock:
        _secrets.clear()
        _Redaction.pattern = None


def redact(text: str) -> str:
    pattern = _Redaction.pattern
    if pattern is None:
        return text
    return pattern.sub(REDACTED, text)


# str(Decimal) as Python prints it in exponent form: 0E-8, 1.5E+3 (a float's is lower-case: 1e-08)
_DECIMAL_EXPONENT = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?E[+-]\d{1,2}(?![\w.])")


def _plain(match: re.Match[str]) -> str:
    return to_plain(Decimal(match.group()))


def plain_decimals(text: str) -> str:
    """``text`` with every Decimal written in exponent form (``0E-8``) in plain notation
    (``0.00000000``) — what ``"{}".format(Decimal)`` produces for small or quantized zeros."""
    return _DECIMAL_EXPONENT.sub(_plain, text) if "E" in text else text


def redacting_patcher(record: Any) -> None:
    """loguru patcher: secrets out of the message and string extras; Decimals in plain notation
    (docs/contributing.md: no exponents — ``logger.info("{}", qty)`` formats before any hook
    could see the Decimal, so the message text is rewritten); trace ids in."""
    record["message"] = plain_decimals(record["message"])
    pattern = _Redaction.pattern
    if pattern is not None:
        record["message"] = pattern.sub(REDACTED, record["message"])
        extra = record["extra"]
        for k, v in extra.items():
            if isinstance(v, str):
                extra[k] = pattern.sub(REDACTED, v)
    ids = current_trace_ids()
    if ids is not None:
        record["extra"]["trace_id"], record["extra"]["span_id"] = ids


class _TextSink:
    """Writes formatted records to a stream, redacted once more (tracebacks too)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, message: str) -> None:
        self._stream.write(redact(message))
        self._stream.flush()


_json = msgspec.json.Encoder(enc_hook=str)
_INTERNAL_EXTRA = frozenset({"trace_id", "span_id"})


class _JsonSink:
    """One JSON object per record (Loki-friendly flat keys)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, message: Any) -> None:
        record = message.record
        extra = record["extra"]
        out: dict[str, Any] = {
            "ts": record["time"].isoformat(timespec="microseconds"),
            "level": record["level"].name,
            "msg": record["message"],
            "logger": record["name"],
            "function": record["function"],
            "line": record["line"],
        }
        if "trace_id" in extra:
            out["trace_id"] = extra["trace_id"]
            out["span_id"] = extra.get("span_id", "")
        for k, v in extra.items():
            if k not in _INTERNAL_EXTRA and k not in out:
                out[k] = v
        exc = record["exception"]
        if exc is not None:
            out["exception"] = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
        line = _json.encode(out).decode()
        self._stream.write(redact(line) + "\n")
        self._stream.flush()


def _human_format(record: Any) -> str:
    fmt = "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}"
    if "trace_id" in record["extra"]:
        fmt += "  <dim>trace={extra[trace_id]}</dim>"
    return fmt + "\n{exception}"


def setup_logging(
    level: str = "INFO",
    *,
    json: bool = False,
    stream: TextIO | None = None,
    colorize: bool | None = None,
    extra: dict[str, Any] | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Replace loguru's handlers with one sink on ``stream`` (stderr) in the chosen format.

    ``extra`` is bound to every record (JSON keys such as ``service``); ``secrets`` are
    registered for redaction before the first line is written.
    """
    for value in secrets:
        register_secret(value)
    out = stream if stream is not None else sys.stderr
    logger.remove()
    logger.configure(patcher=redacting_patcher, extra=dict(extra or {}))
    if json:
        logger.add(
            _JsonSink(out).write, level=level.upper(), format="{message}", colorize=False, diagnose=False, catch=True
        )
        return
    tty = bool(getattr(out, "isatty", lambda: False)())
    logger.add(
        _TextSink(out).write,
        level=level.upper(),
        format=_human_format,
        colorize=tty if colorize is None else colorize,
        diagnose=False,
        backtrace=False,
        catch=True,
    )
