"""Binance's dialect of the shared resilient WebSocket (:mod:`exchanges.transport.ws`).

What is Binance's own:

- subscriptions are stream names, sent as ``{"method": "SUBSCRIBE", "params": [...], "id": N}``
  (at most 200 a request) and replayed after every reconnect; the replies
  (``{"result": null, "id": N}``) are consumed here, refusals counted and logged;
- keep-alive is the protocol ping: Binance pings (spot every 20 s, closing after 1 min without
  a pong; futures every 3 min / 10 min) and the transport answers with the same payload; ours
  go out right after connecting (the pong proves a quiet user-data stream healthy within a
  round trip) and then every ``ping_interval_s``; only a pong answers them;
- a ``serverShutdown`` event (on streams, or wrapped as a WS-API user-data event) is a planned
  reconnect, as is the 24 h cut (``max_lifetime_s`` defaults to 23.5 h).
"""

from __future__ import annotations

from typing import Literal, Unpack

import msgspec
from loguru import logger

from exchanges.transport.ws import Keepalive, ResilientWs, UrlSource, WsDialect, WsOptions

from .ws_schemas import ControlReply, EventTag, UserEventEnvelope

__all__ = ["BinanceDialect", "BinanceWs"]

_SUBSCRIBE_CHUNK = 200
_CONTROL_MAX_BYTES = 4096
_LIFETIME_S = 23.5 * 3600
_decode_control = msgspec.json.Decoder(ControlReply).decode
_decode_tag = msgspec.json.Decoder(EventTag).decode
_decode_user_envelope = msgspec.json.Decoder(UserEventEnvelope).decode


def _is_server_shutdown(data: bytes) -> bool:
    """``{"e":"serverShutdown",...}`` on streams, or wrapped as a WS-API user-data event."""
    try:
        if _decode_tag(data).e == "serverShutdown":
            return True
    except msgspec.DecodeError:
        return False
    try:
        return _decode_tag(bytes(_decode_user_envelope(data).event)).e == "serverShutdown"
    except msgspec.DecodeError:
        return False


class BinanceDialect(WsDialect[str]):
    """SUBSCRIBE/UNSUBSCRIBE by id, protocol pings, ``serverShutdown`` (see the module doc)."""

    keepalive = Keepalive(at_open=True, any_traffic=False)

    def __init__(self) -> None:
        self._control_id = 0
        self._pending: dict[int, list[str]] = {}

    def reset(self) -> None:
        self._pending.clear()

    def control_frames(self, op: Literal["subscribe", "unsubscribe"], subs: list[str]) -> list[bytes]:
        method = op.upper()
        frames = []
        for i in range(0, len(subs), _SUBSCRIBE_CHUNK):
            chunk = subs[i : i + _SUBSCRIBE_CHUNK]
            self._control_id += 1
            self._pending[self._control_id] = chunk
            frames.append(msgspec.json.encode({"method": method, "params": chunk, "id": self._control_id}))
        return frames

    def on_message(self, data: bytes) -> bool:
        if self._pending and len(data) <= _CONTROL_MAX_BYTES and self._handle_control(data):
            return True
        if b"serverShutdown" in data and _is_server_shutdown(data):
            logger.warning("{}: serverShutdown received, reconnecting", self.ws.name)
            self.ws.close_planned("serverShutdown")
            return True
        return False

    def _handle_control(self, data: bytes) -> bool:
        try:
            reply = _decode_control(data)
        except msgspec.DecodeError:
            return False
        if not isinstance(reply.id, int) or reply.id not in self._pending:
            return False
        streams = self._pending.pop(reply.id)
        if reply.code is not None:
            self.ws.stats.control_errors += 1
            logger.error(
                "{}: control request {} for {} failed: code {} {}",
                self.ws.name,
                reply.id,
                streams[:5],
                reply.code,
                reply.msg,
            )
        return True


class BinanceWs(ResilientWs[str]):
    """A Binance stream (market data, user data or the WS-API): :class:`ResilientWs` with the
    :class:`BinanceDialect` and Binance's 24 h lifetime."""

    def __init__(
        self,
        name: str,
        url: UrlSource,
        *,
        subscriptions: list[str] | tuple[str, ...] = (),
        **options: Unpack[WsOptions],
    ) -> None:
        options.setdefault("max_lifetime_s", _LIFETIME_S)
        super().__init__(name, url, BinanceDialect(), subscriptions=subscriptions, **options)
