"""Offline exchange venues: the venue-agnostic engine (``engine/``), the server that hosts a
venue dialect on real ports (``server``), fault injection (``faults``), the ``/_sim/`` admin
API (``admin``) and the CLI (``python -m exchanges.sim``). See ``docs/simulator.md``."""
