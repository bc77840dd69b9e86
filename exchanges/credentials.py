"""API credentials. The secret never appears in repr/str, so it cannot reach a log by accident."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["Credentials"]


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str = field(repr=False)
    passphrase: str = field(default="", repr=False)

    def __repr__(self) -> str:
        shown = self.api_key[:4] + "…" if len(self.api_key) > 4 else "…"
        return f"Credentials(api_key={shown!r}, api_secret=<redacted>)"

    __str__ = __repr__

    @classmethod
    def from_env(cls, prefix: str) -> Credentials | None:
        """``{PREFIX}_API_KEY`` / ``{PREFIX}_API_SECRET`` (/ ``{PREFIX}_API_PASSPHRASE``)."""
        key = os.environ.get(f"{prefix}_API_KEY", "")
        secret = os.environ.get(f"{prefix}_API_SECRET", "")
        if not key or not secret:
            return None
        return cls(key, secret, os.environ.get(f"{prefix}_API_PASSPHRASE", ""))
