"""The tradebus wire protocol (see docs/protocol.md): envelope, messages, the command registry, topics, codec."""

from .codec import (
    FrameError,
    classify_request_error,
    decode_event,
    decode_header,
    decode_reply,
    decode_request,
    encode,
)
from .commands import BY_METHOD, COMMANDS, CommandSpec, Permission, Query, Routing, Scope, command, spec_of
from .envelope import MAX_FRAME_BYTES, PROTOCOL_VERSION, Header, new_message_id, now_ns
from .errors import ErrorCode, error_class
from .messages import *  # noqa: F403 - every name in messages.__all__ is the wire's (re-exported below)
from .messages import __all__ as _messages_all
from .registry import (
    HEARTBEAT_S,
    KEY_PREFIX,
    REGISTRATION_TTL_S,
    RunnerRecord,
    decode_record,
    encode_record,
    runner_key,
)
from .topics import DELIM, ParsedTopic, TopicKind, parse_topic, topic, topic_prefix

__all__ = [  # noqa: PLE0604 - the messages' names are spliced in (*_messages_all)
    "FrameError",
    "classify_request_error",
    "decode_event",
    "decode_header",
    "decode_reply",
    "decode_request",
    "encode",
    "BY_METHOD",
    "COMMANDS",
    "CommandSpec",
    "Permission",
    "Query",
    "Routing",
    "Scope",
    "command",
    "spec_of",
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "Header",
    "new_message_id",
    "now_ns",
    "ErrorCode",
    "error_class",
    "HEARTBEAT_S",
    "KEY_PREFIX",
    "REGISTRATION_TTL_S",
    "RunnerRecord",
    "decode_record",
    "encode_record",
    "runner_key",
    "DELIM",
    "ParsedTopic",
    "TopicKind",
    "parse_topic",
    "topic",
    "topic_prefix",
    *_messages_all,
]
