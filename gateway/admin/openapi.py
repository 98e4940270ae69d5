"""The admin API's OpenAPI 3.1 document, built from the endpoint declarations and the pydantic
models they name, so what is described is what is validated and answered."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.admin.auth import READ
from gateway.admin.http import ENDPOINTS, Endpoint
from gateway.admin.models import ProblemOut
from gateway.server.responses import PROBLEM_MEDIA, PROBLEMS

REF = "#/components/schemas/{model}"

# Path parameters: ids as the API hands them out (UUIDs, department and group ids, kids).
PATH_PARAMETER = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"}
_DESCRIPTIONS = {problem.status: problem.title for problem in PROBLEMS}


def _problems(e: Endpoint) -> list[int]:
    statuses = {401, 403, *e.problems}
    if e.path_params:
        statuses.add(404)
    if e.query is not None or e.body is not None:
        statuses.add(422)
    if e.body is not None:
        statuses.update({400, 415})
    if e.method != "GET":
        statuses.update({404, 409, 422})  # references in bodies, states that refuse a change
    if e.if_match:
        statuses.add(412)
    statuses.add(503)
    return sorted(statuses)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value; it is never JSON null."""
    options = schema.get("anyOf")
    if options:
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**rest, **kept[0]}
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    return schema


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    parameters = []
    for name, property_schema in schema.get("properties", {}).items():
        described = dict(property_schema)
        description = described.pop("description", None)
        described.pop("title", None)
        parameter = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _not_null(described),
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


@cache
def document() -> bytes:
    models: list[tuple[type[BaseModel], Any]] = [(ProblemOut, "serialization")]
    for e in ENDPOINTS:
        if e.out is not None:
            models.append((e.out, "serialization"))
        if e.body is not None:
            models.append((e.body, "validation"))
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    problem_ref = refs[(ProblemOut, "serialization")]
    challenge = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETER}
            for name in e.path_params
        ]
        if e.query is not None:
            parameters += _query_parameters(e.query, schemas)
        if e.if_match:
            parameters.append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": "The ETag read: the change happens only if it still matches.",
                    "schema": {"type": "string"},
                }
            )
        success: dict[str, Any] = {"description": e.summary}
        if e.out is not None:
            success["content"] = {e.media_type: {"schema": refs[(e.out, "serialization")]}}
        if e.etag:
            success["headers"] = {"ETag": {"schema": {"type": "string"}, "required": True}}
        responses: dict[str, Any] = {str(e.status): success}
        for status in _problems(e):
            response: dict[str, Any] = {
                "description": _DESCRIPTIONS.get(status, "Problem"),
                "content": {PROBLEM_MEDIA: {"schema": problem_ref}},
            }
            if status in (401, 403):
                response["headers"] = challenge
            responses[str(status)] = response
        operation: dict[str, Any] = {
            "operationId": e.operation_id,
            "summary": e.summary,
            "tags": [e.tag],
            "security": [{"bearer": []}],
            "x-required-scope": e.scope,
            "responses": responses,
        }
        if e.description:
            operation["description"] = e.description
        if parameters:
            operation["parameters"] = parameters
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(e.body, "validation")]}},
            }
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "一号通 Yihaotong admin API",
                "version": "1",
                "description": (
                    "Bearer access tokens from this gateway's token endpoint, with the scope "
                    f"`{READ}` (reads) or `admin:write` (changes) in `x-required-scope`, for an "
                    "account that holds that admin role; its department scopes what it reaches "
                    "(anything outside is 404). Errors are RFC 9457 problem documents."
                ),
            },
            "servers": [{"url": "/admin/api/v1"}],
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
            "paths": paths,
        },
        ensure_ascii=False,
    ).encode()
