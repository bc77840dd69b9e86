"""Manual trading: the ``strategy manual`` REPL over one exchange's runner.

:func:`run_manual` is the entry point (the ``strategy`` CLI wires it); :mod:`.commands` is the
pure grammar, :mod:`.session` runs commands through the blocking CoreApi, :mod:`.render` prints
them, :mod:`.completion` completes them. Imports only :mod:`strategy_client`.
"""

from .repl import run_manual

__all__ = ["run_manual"]
