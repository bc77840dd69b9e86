"""Pieces of ``scripts/bench.py``: child processes, the simulator's bench knobs, statistics.

Child processes run as ``python -m benchlib.<module>`` with ``scripts/`` and the repository
root on ``PYTHONPATH`` (see :mod:`benchlib.procs`).
"""
