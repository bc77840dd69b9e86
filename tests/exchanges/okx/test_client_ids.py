"""Client ids: tradebus ids encoded reversibly into OKX's ``clOrdId`` alphabet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.okx.client_ids import OKX_CLIENT_ID_RE, ClientIdFactory, from_okx, to_okx

_ids = st.text(alphabet="abcXYZ019-_.:/", min_size=1, max_size=16)


@given(_ids)
def test_roundtrip(client_id: str) -> None:
    encoded = to_okx(client_id)
    assert OKX_CLIENT_ID_RE.match(encoded) and from_okx(encoded) == client_id


def test_plain_ids_unchanged_and_runner_ids_fit() -> None:
    assert to_okx("arb0001") == "arb0001" == from_okx("arb0001")
    runner_id = "tb-19a2b3c4d5e-0123456789"  # exchange_runner.actors.order.new_client_id
    assert len(to_okx(runner_id)) <= 32 and from_okx(to_okx(runner_id)) == runner_id
    assert from_okx("abZ9") == "abZ9"  # not an encoding of ours: as received
    with pytest.raises(ValueError, match="32"):
        to_okx("-" * 17)
    with pytest.raises(ValueError):
        to_okx("bad id")


def test_factory() -> None:
    factory = ClientIdFactory("tb", wall_ms=lambda: 1_760_000_000_000)
    ids = {factory() for _ in range(1000)}
    assert len(ids) == 1000 and all(OKX_CLIENT_ID_RE.match(i) and to_okx(i) == i for i in ids)
    with pytest.raises(ValueError):
        ClientIdFactory("bad-prefix")
