"""USD-M listenKeys (§7): valid ``validity_ms`` (60 min), the same key while active, -1125 after.

``POST`` returns the account's active key (extending it) or a new one; ``PUT`` extends it or
fails with -1125; ``DELETE`` closes it. :meth:`ListenKeys.expire_due` reports keys whose time
is up (the caller sends ``listenKeyExpired`` and stops the stream).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from .api_errors import BinanceApiError

__all__ = ["ListenKeys", "KeyState", "invalid_listen_key"]

_ALPHABET = string.ascii_letters + string.digits


def invalid_listen_key() -> BinanceApiError:
    return BinanceApiError(
        -1125, "This listenKey does not exist. Please use `POST /fapi/v1/listenKey` to recreate `listenKey`"
    )


@dataclass(slots=True)
class KeyState:
    account: str
    expires_ms: int


class ListenKeys:
    def __init__(self, validity_ms: int, now_ms: Callable[[], int], seed: int) -> None:
        self.validity_ms = validity_ms
        self._now_ms = now_ms
        self._rng = random.Random(seed ^ 0x5EED)
        self._keys: dict[str, KeyState] = {}
        self._by_account: dict[str, str] = {}

    def _new_key(self) -> str:
        return "".join(self._rng.choice(_ALPHABET) for _ in range(64))

    def create(self, account: str) -> str:
        now = self._now_ms()
        key = self._by_account.get(account)
        if key is not None and self._keys[key].expires_ms > now:
            self._keys[key].expires_ms = now + self.validity_ms
            return key
        if key is not None:
            self._remove(key)
        key = self._new_key()
        self._keys[key] = KeyState(account, now + self.validity_ms)
        self._by_account[account] = key
        return key

    def keepalive(self, account: str) -> str:
        now = self._now_ms()
        key = self._by_account.get(account)
        if key is None or self._keys[key].expires_ms <= now:
            raise invalid_listen_key()
        self._keys[key].expires_ms = now + self.validity_ms
        return key

    def close(self, account: str) -> str | None:
        key = self._by_account.get(account)
        if key is not None:
            self._remove(key)
        return key

    def account_of(self, key: str) -> str | None:
        state = self._keys.get(key)
        if state is None or state.expires_ms <= self._now_ms():
            return None
        return state.account

    def active_key_of(self, account: str) -> str | None:
        key = self._by_account.get(account)
        if key is None or self._keys[key].expires_ms <= self._now_ms():
            return None
        return key

    def is_active(self, key: str) -> bool:
        return self.account_of(key) is not None

    def expire_due(self) -> list[str]:
        now = self._now_ms()
        due = [k for k, s in self._keys.items() if s.expires_ms <= now]
        for key in due:
            self._remove(key)
        return due

    def expire_all(self) -> list[str]:
        keys = list(self._keys)
        for key in keys:
            self._remove(key)
        return keys

    def active_keys(self) -> list[str]:
        now = self._now_ms()
        return [k for k, s in self._keys.items() if s.expires_ms > now]

    def _remove(self, key: str) -> None:
        state = self._keys.pop(key, None)
        if state is not None and self._by_account.get(state.account) == key:
            del self._by_account[state.account]
