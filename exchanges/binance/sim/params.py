"""Request parameters as Binance reads them, with its validation errors.

REST: query string and form body are merged, a name in both → the query wins (reference §2);
a name repeated within one part → -1101. WS-API: the ``params`` object (values may be JSON
strings, numbers or booleans). Getters raise :class:`BinanceApiError` with Binance's codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

import msgspec

from .api_errors import DECIMAL_RANGE, INT_RANGE, BinanceApiError, illegal_chars, mandatory

__all__ = ["Params", "parse_form"]

_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INT_RE = re.compile(r"^[0-9]{1,20}$")
_SIGNED_INT_RE = re.compile(r"^-?[0-9]{1,20}$")


def parse_form(raw: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` → pairs (percent-decoded, blanks kept); garbage → -1100/-1102 upstream."""
    if not raw:
        return []
    try:
        return parse_qsl(raw, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BinanceApiError(-1100, "Illegal characters found in a parameter.") from None


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return msgspec.json.encode(value).decode()


class Params:
    """Merged request parameters, all as text (WS-API values are converted as Binance does)."""

    __slots__ = ("_values", "_read")

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self._read: set[str] = set()

    @classmethod
    def from_rest(cls, query: list[tuple[str, str]], body: list[tuple[str, str]]) -> Params:
        merged: dict[str, str] = {}
        for part in (body, query):  # query last: it wins over the body
            seen: set[str] = set()
            for name, value in part:
                if name in seen:
                    raise BinanceApiError(-1101, "Duplicate values for a parameter detected.")
                seen.add(name)
                merged[name] = value
        return cls(merged)

    @classmethod
    def from_ws(cls, params: Mapping[str, object]) -> Params:
        return cls({k: _value_text(v) for k, v in params.items() if v is not None})

    def names(self) -> set[str]:
        return set(self._values)

    def raw(self, name: str) -> str | None:
        return self._values.get(name)

    def check_known(self, allowed: Iterable[str]) -> None:
        """-1104 when parameters the endpoint does not read were sent."""
        allowed_set = set(allowed)
        unread = [n for n in self._values if n not in allowed_set]
        if unread:
            sent = len(self._values)
            read = sent - len(unread)
            raise BinanceApiError(
                -1104, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'."
            )

    # -- text -------------------------------------------------------------------------------

    def opt_str(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if value == "":
            raise BinanceApiError(-1105, f"Parameter '{name}' was empty.")
        return value

    def req_str(self, name: str) -> str:
        value = self._values.get(name)
        if value is None or value == "":
            raise mandatory(name)
        return value

    def req_enum(self, name: str, allowed: Iterable[str], error: BinanceApiError) -> str:
        value = self.req_str(name)
        if value not in set(allowed):
            raise error
        return value

    def opt_enum(self, name: str, allowed: Iterable[str], error: BinanceApiError) -> str | None:
        value = self.opt_str(name)
        if value is not None and value not in set(allowed):
            raise error
        return value

    # -- numbers ----------------------------------------------------------------------------

    def opt_decimal(self, name: str) -> Decimal | None:
        value = self.opt_str(name)
        if value is None:
            return None
        if not _DECIMAL_RE.match(value):
            raise illegal_chars(name, DECIMAL_RANGE)
        try:
            return Decimal(value)
        except InvalidOperation:
            raise illegal_chars(name, DECIMAL_RANGE) from None

    def req_decimal(self, name: str) -> Decimal:
        if self._values.get(name) in (None, ""):
            raise mandatory(name)
        value = self.opt_decimal(name)
        assert value is not None
        return value

    def opt_int(self, name: str, *, signed: bool = False) -> int | None:
        value = self.opt_str(name)
        if value is None:
            return None
        if not (_SIGNED_INT_RE if signed else _INT_RE).match(value):
            raise illegal_chars(name, INT_RANGE)
        return int(value)

    def req_int(self, name: str) -> int:
        if self._values.get(name) in (None, ""):
            raise mandatory(name)
        value = self.opt_int(name)
        assert value is not None
        return value

    def opt_bool(self, name: str) -> bool | None:
        value = self.opt_str(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise BinanceApiError(-1130, f"Data sent for parameter '{name}' is not valid.")

    def opt_symbols(self, name: str = "symbols") -> list[str] | None:
        """``symbols=["BTCUSDT","ETHUSDT"]`` (JSON array of strings)."""
        value = self.opt_str(name)
        if value is None:
            return None
        try:
            parsed = msgspec.json.decode(value.encode(), type=list[str])
        except msgspec.ValidationError:
            raise BinanceApiError(-1130, f"Data sent for parameter '{name}' is not valid.") from None
        except msgspec.DecodeError:
            raise BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'.") from None
        if not parsed:
            raise BinanceApiError(-1130, f"Data sent for parameter '{name}' is not valid.")
        if len(set(parsed)) != len(parsed):
            raise BinanceApiError(-1151, "Symbol is present multiple times in the list.")
        return parsed
