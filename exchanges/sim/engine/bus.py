"""EventBus: synchronous, ordered delivery of engine events to listeners.

Events queue up during an engine call and are delivered when the call commits, so listeners
always see a consistent engine. A listener may call back into the engine: the events of that
nested call join the same queue behind the ones already waiting, so the order stays total.
A listener that raises is counted and logged once per exception type; delivery continues.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from .events import SimEvent

__all__ = ["EventBus", "Listener"]

Listener = Callable[[SimEvent], None]

_log = logging.getLogger(__name__)


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queue: deque[SimEvent] = deque()
        self._delivering = False
        self.listener_errors = 0
        self._logged: set[type[BaseException]] = set()

    @property
    def active(self) -> bool:
        """Whether anyone listens (events are not even built otherwise)."""
        return bool(self._listeners)

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def emit(self, event: SimEvent) -> None:
        self._queue.append(event)

    def deliver(self) -> None:
        if self._delivering:
            return
        self._delivering = True
        try:
            queue = self._queue
            while queue:
                event = queue.popleft()
                for listener in tuple(self._listeners):
                    try:
                        listener(event)
                    except Exception as exc:  # noqa: BLE001 - a listener's bug must not corrupt the engine
                        self.listener_errors += 1
                        if type(exc) not in self._logged:
                            self._logged.add(type(exc))
                            _log.exception("simulator event listener failed on %s", type(event).__name__)
        finally:
            self._delivering = False
