"""How old each leg's market data is, and when it became too old.

A strategy decides only on fresh books (:class:`~strategies.arbitrage.oracle.PriceOracle`), so
when a runner stops publishing nothing trades — but the last edge stayed on the status line as if
it were current. :class:`FeedWatch` reads each leg's book age from the oracle once a second and
reports which legs are older than their threshold (``oracle.max_book_age_ms``), which became so
since the last check, and which recovered: the status line shows every leg's age and ``STALE``,
and the strategy logs a warning when a leg goes stale (again every ``repeat_s`` while it stays so)
and a line when it recovers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from strategy_client.model import InstrumentKey

from .arbitrage.oracle import Freshness, PriceOracle

__all__ = ["FeedWatch", "FeedReport", "leg_label"]

_OLD = frozenset({Freshness.TOO_OLD, Freshness.VENUE_STALE})


def leg_label(key: InstrumentKey, keys: Iterable[InstrumentKey]) -> str:
    """A short name for a leg: its kind when the legs share an exchange (``spot``), else its exchange."""
    exchanges = {k.exchange for k in keys}
    return key.kind.value if len(exchanges) == 1 else key.exchange.value


@dataclass(slots=True)
class FeedReport:
    """One check: every leg's book age (None: no book yet) and verdict."""

    ages_ms: dict[InstrumentKey, float | None]
    why: dict[InstrumentKey, Freshness]
    stale: list[InstrumentKey] = field(default_factory=list)
    newly_stale: list[InstrumentKey] = field(default_factory=list)
    still_stale: list[InstrumentKey] = field(default_factory=list)  # stale, and due for a repeated warning
    recovered: list[InstrumentKey] = field(default_factory=list)

    def age_text(self, key: InstrumentKey) -> str:
        age = self.ages_ms.get(key)
        return "none" if age is None else f"{age / 1000:.1f}s"

    def status(self, keys: list[InstrumentKey]) -> str:
        """``spot 0.1s perp 35.0s STALE`` — every leg's data age, ``STALE`` after a leg too old."""
        parts = []
        for key in keys:
            mark = " STALE" if key in self.stale else ""
            parts.append(f"{leg_label(key, keys)} {self.age_text(key)}{mark}")
        return " ".join(parts)


class FeedWatch:
    """Per-leg staleness with edge detection (went stale, still stale, recovered)."""

    def __init__(self, keys: Iterable[InstrumentKey], threshold_ms: float, *, repeat_s: float = 30.0) -> None:
        self.keys = list(keys)
        self.threshold_ms = threshold_ms
        self.repeat_ns = int(repeat_s * 1e9)
        self._stale_since: dict[InstrumentKey, int] = {}
        self._warned_at: dict[InstrumentKey, int] = {}
        self._seen: set[InstrumentKey] = set()

    def check(self, oracle: PriceOracle, now_ns: int) -> FeedReport:
        report = FeedReport(ages_ms={}, why={})
        for key in self.keys:
            quote = oracle.quote(key, now_ns)
            report.ages_ms[key] = quote.age_ms
            report.why[key] = quote.freshness
            if quote.book is not None:
                self._seen.add(key)
            # a leg that never had a book is "starting", not stale: it is shown as `none`; a gap or
            # a crossed book is cleared by the next book and is not about age
            too_old = key in self._seen and quote.freshness in _OLD
            self._update(key, too_old, now_ns, report)
        return report

    def _update(self, key: InstrumentKey, stale: bool, now_ns: int, report: FeedReport) -> None:
        if not stale:
            if self._stale_since.pop(key, None) is not None:
                self._warned_at.pop(key, None)
                report.recovered.append(key)
            return
        report.stale.append(key)
        if key not in self._stale_since:
            self._stale_since[key] = now_ns
            self._warned_at[key] = now_ns
            report.newly_stale.append(key)
        elif now_ns - self._warned_at[key] >= self.repeat_ns:
            self._warned_at[key] = now_ns
            report.still_stale.append(key)

    def stale_for_s(self, key: InstrumentKey, now_ns: int) -> float:
        since = self._stale_since.get(key)
        return 0.0 if since is None else (now_ns - since) / 1e9
