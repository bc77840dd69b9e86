"""``python -m strategy_client.telemetry.healthcheck [URL]``: exit 0 if ``/healthz`` answers 200.

The container HEALTHCHECK of the tradebus image (standard library only, so it starts fast).
The URL is the argument, else ``$TRADEBUS_HEALTHCHECK_URL``, else
``http://127.0.0.1:$TRADEBUS_METRICS_PORT/healthz``. With ``TRADEBUS_METRICS_PORT`` unset or 0
the process has no health endpoint: the check passes and says so (``python -m exchanges.sim``
in the same image, for instance).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

__all__ = ["health_url", "main"]


def health_url(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    if argv:
        return argv[0]
    if env.get("TRADEBUS_HEALTHCHECK_URL"):
        return env["TRADEBUS_HEALTHCHECK_URL"]
    port = env.get("TRADEBUS_METRICS_PORT", "").strip()
    if not port or port == "0":
        return None
    return f"http://127.0.0.1:{port}/healthz"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, timeout_s: float = 3.0) -> int:
    url = health_url(sys.argv[1:] if argv is None else argv, os.environ if env is None else env)
    if url is None:
        print("healthcheck: no metrics port configured (TRADEBUS_METRICS_PORT unset or 0); nothing to check")
        return 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
