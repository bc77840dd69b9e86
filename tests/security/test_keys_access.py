"""Keys, the allow-list and the permission model, the client's trust rules, URL redaction."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth

from exchange_runner.config import ConfigError, RunnerConfig, load_config
from strategy_client.model import Exchange
from strategy_client.security import (
    AccessList,
    AccessListError,
    ClientSecurity,
    CurveKeyError,
    KeyPair,
    Role,
    SecurityConfigError,
    TrustStore,
    generate_keypair,
    load_keypair,
    load_public_key,
    redact_url,
    required_role,
    write_keypair,
)
from strategy_client.wire import RunnerRecord


def test_keypair_files_are_0600_never_overwritten_and_round_trip(tmp_path: Path) -> None:
    pair = generate_keypair()
    public, secret = write_keypair(tmp_path / "k", "alice", pair)
    for path in (public, secret):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pair.secret not in public.read_text()
    assert load_keypair(secret).secret == pair.secret
    assert load_public_key(public) == load_public_key(secret) == pair.public
    # pyzmq reads them as ZeroMQ certificates
    assert zmq.auth.load_certificate(str(secret)) == (pair.public.encode(), pair.secret.encode())
    with pytest.raises(CurveKeyError, match="exists; not overwriting"):
        write_keypair(tmp_path / "k", "alice")
    with pytest.raises(CurveKeyError, match="holds no secret key"):
        load_keypair(public)


def test_a_secret_never_shows_in_repr() -> None:
    pair = generate_keypair()
    assert pair.secret not in repr(pair) and pair.secret not in str(pair)
    cfg = RunnerConfig(curve_secret=pair.secret, allow_file="x")
    assert pair.secret not in repr(cfg)
    assert pair.secret not in repr(ClientSecurity(pair))


def test_bad_keys_are_refused() -> None:
    with pytest.raises(CurveKeyError, match="not a Z85"):
        KeyPair("short")
    a, b = generate_keypair(), generate_keypair()
    with pytest.raises(CurveKeyError, match="does not belong"):
        KeyPair(a.public, b.secret)


def test_roles_include_each_other_and_unknown_methods_need_admin() -> None:
    assert required_role("get_position") is Role.READ
    assert required_role("ping") is Role.READ
    assert required_role("submit_order") is Role.TRADE
    assert required_role("cancel_order") is Role.TRADE
    assert required_role("set_leverage") is Role.ADMIN
    assert required_role("set_trading_state") is Role.ADMIN
    assert required_role("some_future_method") is Role.ADMIN
    assert Role.ADMIN >= Role.TRADE >= Role.READ


def test_every_wire_method_is_classed() -> None:
    """A method added to the wire without a role decision fails here (it would be admin-only)."""
    from strategy_client.security.access import CLASSED_METHODS
    from strategy_client.wire.messages import METHODS

    unclassed = METHODS - CLASSED_METHODS
    assert not unclassed, f"methods without a role decision: {sorted(unclassed)}"
    assert required_role("report_gap") is Role.READ and required_role("replay_events") is Role.READ


def test_allow_list_parsing_comments_key_files_and_errors(tmp_path: Path) -> None:
    pairs = [generate_keypair() for _ in range(3)]
    # a Z85 key may contain '#': only a '#' that starts a word is a comment
    while "#" not in pairs[0].public:
        pairs[0] = generate_keypair()
    write_keypair(tmp_path, "carol", pairs[2])
    allow = tmp_path / "allow.txt"
    allow.write_text(
        f"# the desk\n\ntrade {pairs[0].public} alice  # comment\nREAD {pairs[1].public}\nadmin carol.key carol\n"
    )
    acl = AccessList(allow)
    assert acl.lookup(pairs[0].public).role is Role.TRADE  # type: ignore[union-attr]
    assert acl.lookup(pairs[0].public).label == "alice"  # type: ignore[union-attr]
    assert acl.lookup(pairs[1].public).role is Role.READ  # type: ignore[union-attr]
    assert acl.lookup(pairs[2].public).role is Role.ADMIN  # type: ignore[union-attr]
    extra = generate_keypair()
    acl.add(extra.public, Role.READ, "self")
    assert not acl.changed()
    allow.write_text(f"owner {pairs[0].public}\n")
    assert acl.changed()
    with pytest.raises(AccessListError, match=r"line 1: role 'owner' is not one of read, trade, admin"):
        acl.reload()
    assert acl.lookup(pairs[1].public) is not None  # the old list stays
    allow.write_text(f"trade {pairs[0].public}\n")
    acl.reload()
    assert acl.lookup(pairs[1].public) is None and acl.lookup(extra.public) is not None
    allow.write_text("trade nonsense\n")
    with pytest.raises(AccessListError, match="line 1"):
        acl.reload()


def _record(curve_key: str = "", name: str = "binance") -> RunnerRecord:
    return RunnerRecord(
        name=name,
        exchange=Exchange.BINANCE,
        pub_endpoint="tcp://127.0.0.1:1",
        router_endpoint="tcp://127.0.0.1:2",
        pid=1,
        host="h",
        version="0",
        protocol_version=1,
        started_at_ms=0,
        curve_key=curve_key,
    )


def test_client_trust_rules(tmp_path: Path) -> None:
    server, other, me = generate_keypair(), generate_keypair(), generate_keypair()
    write_keypair(tmp_path / "trusted", "binance", KeyPair(server.public))
    plain = ClientSecurity()
    assert plain.check(_record()) == "" and plain.curve_for(_record()) is None
    assert "requires CURVE" in plain.check(_record(server.public))
    sec = ClientSecurity.from_env({}, client_key=me, trusted=tmp_path / "trusted")
    assert sec.check(_record(server.public)) == ""
    assert sec.curve_for(_record(server.public)).server == server.public  # type: ignore[union-attr]
    assert "no trusted key names" in sec.check(_record(other.public))
    assert "no trusted key names" in sec.check(_record(server.public, name="bybit"))  # pinned per name
    assert "without a CURVE server key" in sec.check(_record())
    pinned = ClientSecurity.from_env({"TRADEBUS_CLIENT_SECRET": me.secret, "TRADEBUS_RUNNER_KEY": server.public})
    assert pinned.check(_record(server.public, name="anything")) == ""
    with pytest.raises(SecurityConfigError, match="does not exist"):
        ClientSecurity.from_env({"TRADEBUS_TRUSTED_RUNNERS": str(tmp_path / "nope")})
    with pytest.raises(SecurityConfigError, match="client key"):
        ClientSecurity.from_env({"TRADEBUS_CLIENT_SECRET": "not-a-key"})
    assert not TrustStore()


def test_redact_url() -> None:
    assert redact_url("rediss://user:pw%40x@host:6380/0?a=b") == "rediss://user:***@host:6380/0?a=b"
    assert redact_url("redis://:secret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_config_refuses_a_public_bind_without_curve_unless_insecure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"refusing to bind 0.0.0.0 without CURVE.*--insecure"):
        load_config(None, {"bind": "0.0.0.0"})
    assert load_config(None, {"bind": "0.0.0.0", "insecure": True}).bind == "0.0.0.0"
    assert load_config(None, {"bind": "127.0.0.1"}).curve is False
    with pytest.raises(ConfigError, match="no allow_file"):
        load_config(None, {"curve_key_file": "k"})
    with pytest.raises(ConfigError, match="--allow needs the runner's own key"):
        load_config(None, {"allow_file": "a"})
    cfg = load_config(None, {"bind": "0.0.0.0", "curve_key_file": "k", "allow_file": "a"})
    assert cfg.curve
