"""Progress lines for the strategies: :class:`strategy_client.progress.Progress` (the runner
uses the same one for its reconcile after a restart)."""

from strategy_client.progress import Progress

__all__ = ["Progress"]
