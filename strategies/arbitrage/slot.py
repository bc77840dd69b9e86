"""One arbitrage position as the engine keeps it (:class:`Slot`) and its client-id sequence
(:class:`OrderSeq`); the journal and a resume read and rebuild them."""

from __future__ import annotations

from .execution import LegOrder
from .pair import ArbPair, PairSize
from .state import ArbState, PositionMachine

__all__ = ["OrderSeq", "Slot"]


class OrderSeq:
    """The order sequence of a position (client ids): ``next()`` like ``itertools.count``, and
    ``value`` (the next one) so that a resumed position continues after its journaled orders."""

    def __init__(self, start: int = 1) -> None:
        self.value = start

    def __iter__(self) -> OrderSeq:
        return self

    def __next__(self) -> int:
        n = self.value
        self.value += 1
        return n


class Slot:
    """One arbitrage position: its pair, size, state machine and order sequence."""

    def __init__(self, position_id: str, pair: ArbPair, size: PairSize, machine: PositionMachine) -> None:
        self.position_id = position_id
        self.pair = pair
        self.size = size
        self.machine = machine
        self.seq = OrderSeq(1)
        self.opened_ms = 0
        self.next_exit_ms = 0  # an abandoned exit is tried again from then on
        self.last_error = ""
        self.orders: list[LegOrder] = []  # every order sent for it (journaled before it is sent)
        self.adopted = False  # taken over from a foreign position with --adopt

    @property
    def open(self) -> bool:
        return self.machine.state is not ArbState.CLOSED
