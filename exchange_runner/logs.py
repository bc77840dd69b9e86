"""The runner's logging: the shared loguru setup plus the secrets this process may hold.

Human lines on a terminal, JSON lines with ``--log-json`` (for Loki: ``service``, ``exchange``
and ``runner`` are keys of every line), trace ids in every record while tracing is on — see
``strategy_client.telemetry.logs``. Before the first line is written, every credential this
process can reach is registered for redaction:

* ``<ANY>_API_KEY``, ``<ANY>_API_SECRET``, ``<ANY>_API_PASSPHRASE`` from the environment (the
  runners read ``BINANCE_API_KEY``… from there);
* the string values of the ``--secrets`` file (``api_key``, ``api_secret``, ``passphrase``,
  top level or under ``[<exchange>]``);
* the password of the Redis URL (``redis://:password@host``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from strategy_client.telemetry.logs import register_secret, setup_logging

__all__ = ["setup_runner_logging", "register_runner_secrets", "secret_values"]

_SECRET_ENV_SUFFIXES = ("_API_KEY", "_API_SECRET", "_API_PASSPHRASE", "_PASSWORD")
_SECRET_FILE_KEYS = ("api_key", "api_secret", "passphrase", "password")


def _file_values(data: Mapping[str, Any]) -> Iterator[str]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _file_values(value)
        elif key in _SECRET_FILE_KEYS and isinstance(value, str):
            yield value


def secret_values(*, secrets_file: str = "", redis_url: str = "", env: Mapping[str, str] | None = None) -> list[str]:
    """Every credential value this process can reach (see the module doc)."""
    env = os.environ if env is None else env
    out = [v for k, v in env.items() if k.upper().endswith(_SECRET_ENV_SUFFIXES) and v]
    if secrets_file:
        try:
            out.extend(_file_values(tomllib.loads(Path(secrets_file).read_text())))
        except (OSError, tomllib.TOMLDecodeError):
            pass  # the venue setup reports an unreadable secrets file with its own message
    for url in (redis_url, env.get("REDIS_URL", "")):
        if url:
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                out.append(password)
    return out


def register_runner_secrets(
    *, secrets_file: str = "", redis_url: str = "", env: Mapping[str, str] | None = None
) -> int:
    """Register the process's credentials for redaction; how many were long enough to register."""
    return sum(register_secret(v) for v in secret_values(secrets_file=secrets_file, redis_url=redis_url, env=env))


def setup_runner_logging(
    level: str, *, json: bool = False, exchange: str = "", name: str = "", secrets_file: str = "", redis_url: str = ""
) -> None:
    register_runner_secrets(secrets_file=secrets_file, redis_url=redis_url)
    extra = {"service": "tradebus-runner"}
    if exchange:
        extra["exchange"] = exchange
    if name:
        extra["runner"] = name
    setup_logging(level, json=json, extra=extra)
