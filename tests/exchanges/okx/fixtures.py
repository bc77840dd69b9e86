"""Payload fixtures: OKX's documented shapes (reference §5-§8), in ``fixtures/*.json``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["fixture"]

_DIR = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (_DIR / f"{name}.json").read_bytes()
