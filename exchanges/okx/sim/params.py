"""Reading one OKX request item (a JSON object of strings) with OKX's parameter errors.

OKX sends and expects every value as a string; numbers and booleans given as JSON numbers /
booleans are accepted too (clients differ). A missing mandatory value is ``50014 Parameter
{x} can not be empty``, a malformed one ``51000 Parameter {x} error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from .api_errors import ItemError, param_empty, param_error

__all__ = ["Args"]


class Args:
    """One request item (an order, a cancel) or a GET query, read field by field."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = values

    @property
    def values(self) -> Mapping[str, object]:
        return self._values

    def text(self, name: str) -> str:
        """The value as text; ``""`` when absent or null."""
        value = self._values.get(name)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise param_error(name)

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise param_empty(name)
        return value

    def decimal(self, name: str, *, required: bool = True) -> Decimal | None:
        raw = self.required(name) if required else self.text(name)
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise param_error(name) from None
        if not value.is_finite() or value <= 0:
            raise param_error(name)
        return value

    def flag(self, name: str) -> bool:
        value = self._values.get(name)
        if value is None or value == "":
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise param_error(name)

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise param_error(name) from None
        if not low <= value <= high:
            raise param_error(name)
        return value

    def one_of(self, name: str, allowed: tuple[str, ...], default: str = "") -> str:
        value = self.text(name) or default
        if value not in allowed:
            raise param_error(name) if value else param_empty(name)
        return value

    def check(self, ok: bool, name: str) -> None:
        if not ok:
            raise ItemError(51000, f"Parameter {name} error")
