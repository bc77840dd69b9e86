"""The bridge tests' JetStream stream: a name of the test's own, deleted after it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import nats.js.errors
import pytest

from .brokers import NATS_URL, reachable


@pytest.fixture()
async def stream() -> AsyncIterator[str]:
    if not reachable("127.0.0.1", 4222):
        pytest.skip("NATS JetStream not reachable at 127.0.0.1:4222")
    name = f"TBTEST_{uuid.uuid4().hex[:10]}"
    yield name
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass  # the test never created it (it failed before)
    await nc.close()
