"""Venue transport shared by every adapter: a venue supplies only URLs, signing, control
frames and payload hooks.

* :mod:`.ws` — :class:`~exchanges.transport.ws.ResilientWs`, one self-healing WebSocket driven by
  a venue's :class:`~exchanges.transport.ws.WsDialect` (login, subscribe frames, control replies,
  keep-alive);
* :mod:`.http` — :class:`~exchanges.transport.http.HttpHost` (one REST host: timing, delivery
  classification, the venue's rate-limit and error hooks) and
  :class:`~exchanges.transport.http.RequestLoop` (retry policy by error class, clock upkeep);
* :mod:`.clock` — :class:`~exchanges.transport.clock.ServerClock`, the venue's clock estimate;
* :mod:`.backoff` — reconnect backoff with jitter and its per-stream pacer;
* :mod:`.buffer` — the bounded buffer with a written overflow policy;
* :mod:`.tally` — bad payloads counted by kind.

It imports ``exchanges`` shared modules and the model only, never a venue package.
"""
