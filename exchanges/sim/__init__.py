"""Offline exchange venues: the venue-agnostic engine (``engine/``), the server that hosts a
venue dialect on real ports (``server``), fault injection (``faults``), the ``/_sim/`` admin
API (``admin``) and the CLI (``python -m exchanges.sim``). See ``docs/simulator.md``.

What every dialect shares lives here too: the in-process host and its threaded wrapper
(``runtime``), the config overrides (``overrides``), the server side of a WebSocket connection
(``wsconn``), and the CLI's argument checks (``cliargs``) and serve loop (``serve``)."""
