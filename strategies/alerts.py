"""Alerts: what a trader wants to hear about while a strategy runs, sent to webhooks.

Kinds (:class:`AlertKind`): ``fill`` (one of the strategy's orders filled, or partly filled and
done), ``entry`` / ``exit`` (a position hedged / closed), ``risk`` (a pair broken or unwinding,
the runner's risk gate changing state or refusing an order), ``runner`` (a runner not ready, a
venue stream down — and back), ``stale_feed`` (a leg's market data older than its threshold —
and fresh again), ``unknown_order`` (an order whose outcome is unknown), ``test``.

Sinks:

* a **webhook** URL (Slack and Discord incoming webhooks, Mattermost, Rocket.Chat, anything that
  takes JSON): ``POST {"text": …, "content": …, "kind": …, "source": …, "ts_ms": …}`` — Slack
  reads ``text``, Discord ``content``;
* **Telegram**'s bot API: ``POST {url}/bot{token}/sendMessage {"chat_id": …, "text": …}`` with
  the token from ``$TRADEBUS_TELEGRAM_TOKEN`` (never a flag: it is a secret) and the URL
  ``https://api.telegram.org`` unless another is given (a compatible relay, or a test server).

Delivery never blocks trading: :meth:`Alerter.notify` puts the alert on a bounded queue (256;
when it is full the newest alert is dropped and counted — the next message says how many) and
one sender task posts them. Rate limit: a token bucket per alerter, ``burst`` messages at once
and ``per_minute`` a minute after that; what the limit holds back is counted by kind and
summarised in the next message that goes (``+7 more: fill 5, stale_feed 2``), or in a summary
of its own once a token is free. A sink that fails (transport error, HTTP status ≥ 400) is logged
as one warning line (at most one a minute per sink); alerts are not retried.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

import httpx
from loguru import logger

from strategy_client.aio import within
from strategy_client.security import redact_url

__all__ = [
    "AlertKind",
    "Alert",
    "AlertConfig",
    "Alerter",
    "Sink",
    "WebhookSink",
    "TelegramSink",
    "SinkResult",
    "TELEGRAM_TOKEN_ENV",
    "WEBHOOK_ENV",
]

TELEGRAM_TOKEN_ENV = "TRADEBUS_TELEGRAM_TOKEN"
WEBHOOK_ENV = "TRADEBUS_ALERT_WEBHOOK"  # comma-separated webhook URLs
QUEUE_SIZE = 256
SEND_TIMEOUT_S = 5.0
WARN_EVERY_S = 60.0


class AlertKind(StrEnum):
    FILL = "fill"
    ENTRY = "entry"
    EXIT = "exit"
    RISK = "risk"
    RUNNER = "runner"
    STALE_FEED = "stale_feed"
    UNKNOWN_ORDER = "unknown_order"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    text: str
    source: str = "tradebus"
    ts_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    def message(self, suffix: str = "") -> str:
        return f"[{self.source}] {self.kind.value}: {self.text}{suffix}"


@dataclass(frozen=True, slots=True)
class SinkResult:
    sink: str
    ok: bool
    detail: str  # "200 OK", "HTTP 404: …", "ConnectError: …"


class Sink:
    """Where alerts go; :meth:`request` builds the POST."""

    name: str
    _secret: str = ""  # never shown: the webhook's path, the bot token

    def request(self, alert: Alert, text: str) -> tuple[str, dict[str, object]]:
        raise NotImplementedError


class WebhookSink(Sink):
    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook {url!r}: not an http(s) URL")
        self.url = url
        self.name = f"webhook {_shown(url)}"
        self._secret = urlsplit(url).path  # Slack/Discord put the secret in the path

    def request(self, alert: Alert, text: str) -> tuple[str, dict[str, object]]:
        body: dict[str, object] = {
            "text": text,
            "content": text,
            "kind": alert.kind.value,
            "source": alert.source,
            "ts_ms": alert.ts_ms,
        }
        return self.url, body


class TelegramSink(Sink):
    def __init__(self, token: str, chat_id: str, base_url: str = "https://api.telegram.org") -> None:
        if not token or not chat_id:
            raise ValueError(f"telegram needs a bot token (${TELEGRAM_TOKEN_ENV}) and a chat id")
        self._token = token
        self._secret = token
        self.chat_id = chat_id
        self.base_url = base_url.rstrip("/")
        self.name = f"telegram chat {chat_id} via {self.base_url}"

    def request(self, alert: Alert, text: str) -> tuple[str, dict[str, object]]:
        body: dict[str, object] = {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}
        return f"{self.base_url}/bot{self._token}/sendMessage", body


@dataclass
class AlertConfig:
    webhooks: list[str] = field(default_factory=list)
    telegram_chat: str = ""
    telegram_url: str = "https://api.telegram.org"
    kinds: frozenset[AlertKind] = frozenset(AlertKind)
    burst: int = 5
    per_minute: float = 20.0
    source: str = "tradebus"

    def sinks(self, env: dict[str, str] | None = None) -> list[Sink]:
        """The configured sinks; ``ValueError`` (one line) for a bad URL or a chat without a token."""
        env = dict(os.environ) if env is None else env
        urls = list(self.webhooks) + [u.strip() for u in env.get(WEBHOOK_ENV, "").split(",") if u.strip()]
        out: list[Sink] = [WebhookSink(u) for u in dict.fromkeys(urls)]
        if self.telegram_chat:
            out.append(TelegramSink(env.get(TELEGRAM_TOKEN_ENV, ""), self.telegram_chat, self.telegram_url))
        return out


def parse_kinds(text: str) -> frozenset[AlertKind]:
    """``fill,risk`` → those kinds; ``all`` → every kind. ``ValueError`` lists the valid names."""
    if text.strip() in ("", "all"):
        return frozenset(AlertKind)
    out = set()
    for name in (n.strip() for n in text.split(",") if n.strip()):
        try:
            out.add(AlertKind(name))
        except ValueError:
            valid = ", ".join(k.value for k in AlertKind)
            raise ValueError(f"unknown alert kind {name!r} (choose from {valid}, or all)") from None
    return frozenset(out)


class _Bucket:
    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float]) -> None:
        self.capacity = float(max(1, burst))
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.clock = clock
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait_s(self) -> float:
        return 0.0 if self.tokens >= 1 or self.rate <= 0 else (1 - self.tokens) / self.rate


class Alerter:
    """Queue, rate limit and senders. ``run()`` is the sender task (owned by the caller's task group)."""

    def __init__(
        self,
        sinks: Iterable[Sink],
        *,
        kinds: Iterable[AlertKind] = tuple(AlertKind),
        burst: int = 5,
        per_minute: float = 20.0,
        source: str = "tradebus",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sinks = list(sinks)
        self.kinds = frozenset(kinds)
        self.source = source
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._bucket = _Bucket(burst, per_minute, clock)
        self.suppressed: Counter[str] = Counter()  # held back by the rate limit, not yet reported
        self.dropped = 0  # queue full: newest dropped, not yet reported
        self.sent = 0
        self.failed = 0
        self._warned: dict[str, float] = {}
        self._clock = clock
        self._pending = 0

    @classmethod
    def from_config(cls, config: AlertConfig, env: dict[str, str] | None = None) -> Alerter:
        return cls(
            config.sinks(env),
            kinds=config.kinds,
            burst=config.burst,
            per_minute=config.per_minute,
            source=config.source,
        )

    @property
    def pending(self) -> int:
        """Alerts queued and not yet handled (sent, or counted as held back)."""
        return self._pending

    @property
    def enabled(self) -> bool:
        return bool(self.sinks)

    def notify(self, kind: AlertKind, text: str) -> None:
        """Queue an alert (never blocks; a full queue drops it, counted)."""
        if not self.sinks or kind not in self.kinds:
            return
        try:
            self._queue.put_nowait(Alert(kind, text, self.source))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        self._pending += 1

    async def run(self) -> None:
        """Send until cancelled: each alert when a token is free, else counted into the next."""
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_S) as client:
            while True:
                alert = await self._next()
                if alert is not None:
                    await self._deliver(client, alert)

    async def drain(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until every queued alert went out or was counted (at stop)."""
        try:
            await within(self._queue.join(), timeout_s)
        except TimeoutError:
            logger.warning("alerts: {} not sent at stop", self._queue.qsize())

    async def _next(self) -> Alert | None:
        """The next alert to send now, or a summary of what the limit held back, or None."""
        timeout = max(0.05, self._bucket.wait_s()) if self.suppressed else None
        try:
            alert: Alert | None = await within(self._queue.get(), timeout)
        except TimeoutError:
            alert = None
        else:
            self._queue.task_done()  # handled from here on: sent, or counted into the next one
            self._pending -= 1
        if not self._bucket.take():
            if alert is not None:
                self.suppressed[alert.kind.value] += 1
            return None
        if alert is None:
            if not self.suppressed:
                self._bucket.tokens += 1  # nothing to send: give the token back
                return None
            return Alert(_top(self.suppressed), "alerts held back", self.source)
        return alert

    def _suffix(self) -> str:
        parts = []
        if self.suppressed:
            n = sum(self.suppressed.values())
            by_kind = ", ".join(f"{k} {v}" for k, v in self.suppressed.most_common())
            parts.append(f"+{n} more held back by the rate limit: {by_kind}")
        if self.dropped:
            parts.append(f"{self.dropped} dropped (queue full)")
        return f" ({'; '.join(parts)})" if parts else ""

    async def _deliver(self, client: httpx.AsyncClient, alert: Alert) -> None:
        text = alert.message(self._suffix())
        self.suppressed.clear()
        self.dropped = 0
        for sink in self.sinks:
            result = await send(client, sink, alert, text)
            if result.ok:
                self.sent += 1
                continue
            self.failed += 1
            last = self._warned.get(sink.name)
            if last is None or self._clock() - last >= WARN_EVERY_S:
                self._warned[sink.name] = self._clock()
                logger.warning("alerts: {} failed: {}", sink.name, result.detail)

    async def send_now(self, alert: Alert) -> list[SinkResult]:
        """Send one alert to every sink at once, no queue and no limit (``strategy alerts test``)."""
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_S) as client:
            return [await send(client, sink, alert, alert.message()) for sink in self.sinks]


def _top(counts: Counter[str]) -> AlertKind:
    return AlertKind(counts.most_common(1)[0][0])


async def send(client: httpx.AsyncClient, sink: Sink, alert: Alert, text: str) -> SinkResult:
    url, body = sink.request(alert, text)
    try:
        response = await client.post(url, json=body)
    except httpx.HTTPError as exc:
        return SinkResult(sink.name, False, f"{type(exc).__name__}: {_scrub(str(exc), sink)}")
    if response.status_code >= 400:
        return SinkResult(sink.name, False, f"HTTP {response.status_code}: {_scrub(response.text[:200], sink)}")
    return SinkResult(sink.name, True, f"{response.status_code} {response.reason_phrase}".strip())


def _scrub(text: str, sink: Sink) -> str:
    secret = sink._secret
    return text.replace(secret, "/***" if secret.startswith("/") else "***") if len(secret) > 1 else text


def _shown(url: str) -> str:
    """``https://hooks.slack.com/…``: the host, never the path (where webhooks keep their secret)."""
    parts = urlsplit(redact_url(url))
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}"
