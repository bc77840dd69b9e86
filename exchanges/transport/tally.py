"""Bad input counted by kind: logged once per kind with a sample, reported to the metrics."""

from __future__ import annotations

from collections import Counter

from loguru import logger

from exchanges import telemetry

__all__ = ["ErrorTally"]


class ErrorTally:
    """Bad input counted by kind; the first occurrence of each kind is logged with a sample."""

    def __init__(self, owner: str, sample_bytes: int = 512) -> None:
        self.owner = owner
        self.counts: Counter[str] = Counter()
        self._sample_bytes = sample_bytes

    def record(self, kind: str, sample: bytes | str, error: object = None) -> None:
        self.counts[kind] += 1
        telemetry.decode_error(telemetry.stream_label(self.owner), kind)
        if self.counts[kind] == 1:
            text = sample if isinstance(sample, str) else sample[: self._sample_bytes].decode("utf-8", "replace")
            logger.warning("{}: dropped bad payload ({}): {} | sample: {}", self.owner, kind, error, text)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
