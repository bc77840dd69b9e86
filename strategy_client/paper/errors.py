"""Why a paper venue refuses an order or a call: the model's :class:`RejectCode` (one
vocabulary with the venues and the simulators), translated into each caller's error tree."""

from __future__ import annotations

from ..model import RejectCode

__all__ = ["RejectCode", "PaperRejected"]


class PaperRejected(Exception):
    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def is_not_found(self) -> bool:
        return self.code is RejectCode.NOT_FOUND
