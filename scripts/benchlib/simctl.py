"""The simulator's ``/_sim/`` admin API, as the harness uses it (blocking, stdlib HTTP)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["SimControl", "SimControlError"]


class SimControlError(RuntimeError):
    pass


class SimControl:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise SimControlError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SimControlError(f"{method} {path}: {exc}") from None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Any admin route, e.g. ``call("POST", "/_sim/ws/kill", {"target": "user"})``."""
        return self._call(method, path, body)

    def state(self) -> Any:
        return self._call("GET", "/_sim/state")

    def firehose(self, **config: Any) -> Any:
        """Configure (start or retune) the firehose; see ``exchanges/binance/sim/firehose.py``."""
        return self._call("POST", "/_sim/bench/firehose", config)

    def firehose_state(self) -> Any:
        return self._call("GET", "/_sim/bench/firehose")

    def firehose_off(self) -> Any:
        return self._call("DELETE", "/_sim/bench/firehose")

    def probe(self) -> Any:
        return self._call("GET", "/_sim/bench/probe")

    def probe_clear(self) -> Any:
        return self._call("DELETE", "/_sim/bench/probe")
