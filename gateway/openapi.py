"""The OpenAPI 3.1 document, generated from the route table and the msgspec models (the wire's
own, and the gateway's) with ``msgspec.json.schema_components`` — no hand-kept copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from .models import Problem
from .stream import StreamEvent, StreamGap, StreamSnapshot

__all__ = ["openapi_document"]

REF = "#/components/schemas/{name}"


def _params(path: str, query: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            out.append({"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}})
    out.extend({"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query)
    return out


def openapi_document(routes: Sequence[Any], version: str, prefix: str) -> dict[str, Any]:
    types: list[Any] = [Problem, StreamEvent, StreamSnapshot, StreamGap]
    for r in routes:
        if r.body is not None:
            types.append(r.body)
        if r.response is not None:
            types.append(r.response)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    by_type = dict(zip(types, schemas, strict=True))
    problem = {"application/problem+json": {"schema": by_type[Problem]}}
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r.summary, "operationId": f"{r.method.lower()}{r.path.replace('/', '_')}"}
        params = _params(r.path, r.query)
        if r.command:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": by_type[r.body]}}}
        ok: dict[str, Any] = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": by_type[r.response]}}
        responses: dict[str, Any] = {str(r.status): ok, "default": {"description": "a problem", "content": problem}}
        if r.command:
            responses["200"] = {"description": "finished within ?wait=", "content": ok.get("content", {})}
        op["responses"] = responses
        if r.role is not None:
            op["security"] = [{"apiKey": []}, {"session": []}]
            op["x-role"] = r.role.value
        paths.setdefault(prefix + r.path, {})[r.method.lower()] = op
    paths[prefix + "/stream"] = {
        "get": {
            "summary": "WebSocket stream (see docs/gateway.md); messages: StreamEvent, StreamSnapshot, StreamGap",
            "responses": {"101": {"description": "switching protocols"}},
            "security": [{"apiKey": []}, {"session": []}],
            "x-role": "read",
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "tradebus gateway", "version": version, "description": "docs/gateway.md"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tradebus_session"},
            },
        },
    }
