"""The risk gate's exceptions: a refused order, a refused limit or state change, a bad config."""

from __future__ import annotations

from strategy_client.model import LimitName, RiskBreach

__all__ = ["RiskRejected", "RiskChangeRefused", "RiskConfigError"]


class RiskRejected(Exception):
    """An order the gate refused. ``breach`` has the limit's name and numbers; ``str()`` is one line.

    The wire turns it into an ``ErrorReply(code=risk_rejected, message=str(exc))``.
    """

    def __init__(self, breach: RiskBreach) -> None:
        super().__init__(breach.one_line())
        self.breach = breach

    @property
    def limit(self) -> LimitName:
        return self.breach.limit


class RiskChangeRefused(ValueError):
    """A run-time limit change that loosens a limit (not allowed), or a resume while a loss limit is breached."""


class RiskConfigError(ValueError):
    """A ``[risk]`` section that does not parse; the message names the key and says what is wrong."""
