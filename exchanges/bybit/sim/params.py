"""Request parameters of one REST call: the query string (GET) or the JSON body (POST).

Every getter names the field in its error (retCode 10001, as Bybit's ``params error: ...``).
Unknown parameters are ignored, as Bybit does. String fields must be JSON strings in a body;
booleans accept ``true``/``false`` (JSON or text); integers accept JSON integers or digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec

from .api_errors import missing, param_error

__all__ = ["Params", "parse_query", "parse_body"]

E = TypeVar("E")


def parse_query(raw: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise param_error(f"params error: bad query string: {exc}") from None
    return dict(pairs)


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise param_error(f"request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise param_error("request body must be a JSON object")
    return value


class Params:
    """Typed access to one request's parameters."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def names(self) -> list[str]:
        return list(self._values)

    def has(self, name: str) -> bool:
        value = self._values.get(name)
        return value is not None and value != ""

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def opt_str(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise param_error(f"params error: {name} must be a string")
        return value

    def req_str(self, name: str) -> str:
        value = self.opt_str(name)
        if value is None:
            raise missing(name)
        return value

    def req_enum(self, name: str, allowed: Mapping[str, E]) -> E:
        value = self.req_str(name)
        if value not in allowed:
            raise param_error(f"params error: {name} invalid: {value}")
        return allowed[value]

    def opt_enum(self, name: str, allowed: Mapping[str, E]) -> E | None:
        value = self.opt_str(name)
        if value is None:
            return None
        if value not in allowed:
            raise param_error(f"params error: {name} invalid: {value}")
        return allowed[value]

    def opt_decimal(self, name: str) -> Decimal | None:
        text = self.opt_str(name)
        if text is None:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise param_error(f"params error: {name} invalid: {text}") from None
        if not value.is_finite():
            raise param_error(f"params error: {name} invalid: {text}")
        return value

    def opt_int(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise param_error(f"params error: {name} must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 20:
            return int(value)
        raise param_error(f"params error: {name} must be an integer, got {value!r}")

    def opt_bool(self, name: str) -> bool | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise param_error(f"params error: {name} must be true or false, got {value!r}")
