"""What the API answers, as JSON Schema for its OpenAPI document: every status a route really
gives, with its body. Plain dicts (no pydantic), so the read routes can declare them too.

The bodies are ``Entry.list_view``/``detail_view``, ``ListResult.to_dict``, the batch result
of ``ActivityService.record_batch`` and ``ActivityLogError.to_dict``; the fuzz tier checks
every answer against these schemas.
"""

from __future__ import annotations

from typing import Any

from activitylog.entry import ActorKind, EntityType, EntryType, Status

REF = "#/components/schemas/"
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_OBJECT = {"type": ["object", "null"]}

_LIST_COLUMNS: dict[str, Any] = {
    "id": {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$", "description": "a ULID: time-ordered"},
    "occurred_at": {"type": "string", "format": "date-time"},
    "type": {"enum": [member.value for member in EntryType]},
    "status": {"enum": [member.value for member in Status]},
    "actor": {
        "type": "object",
        "required": ["kind", "id", "name"],
        "properties": {"kind": {"enum": [m.value for m in ActorKind]}, "id": {"type": "string"}, "name": {"type": "string"}},
    },
    "action": {"type": "string"},
    "event": {"type": "string"},
    "entity": {
        "type": ["object", "null"],
        "required": ["type", "id"],
        "properties": {"type": {"enum": [m.value for m in EntityType]}, "id": {"type": "string"}, "label": {"type": "string"}},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the parameter, header or body field at fault"},
        },
    },
    "ListItem": {"type": "object", "required": list(_LIST_COLUMNS), "properties": _LIST_COLUMNS},
    "ListPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": REF + "ListItem"}},
            "next_cursor": {**_NULLABLE_STRING, "description": "pass as `cursor` for the next page; null on the last"},
        },
    },
    "EntryDetail": {
        "type": "object",
        "required": [*_LIST_COLUMNS, "recorded_at", "changes", "metadata", "error", "correlation_id", "retry_of",
                     "source", "recorded_by", "expires_at"],
        "properties": {
            **_LIST_COLUMNS,
            "recorded_at": {"type": ["string", "null"], "format": "date-time"},
            "changes": _NULLABLE_OBJECT,
            "metadata": _NULLABLE_OBJECT,
            "error": _NULLABLE_OBJECT,
            "correlation_id": _NULLABLE_STRING,
            "retry_of": _NULLABLE_STRING,
            "source": _NULLABLE_OBJECT,
            "recorded_by": _NULLABLE_STRING,
            "expires_at": {"type": ["integer", "null"], "description": "epoch seconds"},
        },
    },
    "WebhookReceived": {
        "type": "object",
        "required": ["received", "event_id"],
        "properties": {
            "received": {"const": True},
            "event_id": {"type": "string", "description": "the provider's event id; recorded once however often it arrives"},
        },
    },
    "BatchResult": {
        "type": "object",
        "required": ["accepted", "rejected", "results"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "status"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "status": {"enum": ["accepted", "rejected"]},
                        "id": {"type": "string", "description": "the new entry's id, when accepted"},
                        "field": {"type": "string", "description": "entries.N.<field> at fault, when rejected"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
}

REFUSALS: dict[int, str] = {
    400: "Bad input; `field` names the parameter, header or body field",
    401: "No valid token (the authorizer), or a token without org_id and sub",
    403: "The token lacks the route's scope",
    404: "No such entry in the caller's organization, no such route, or no webhook of that provider set up for the organization",
    409: "An Idempotency-Key reused with another body or still running, or a finished job changed",
    413: "The body is over the route's limit in bytes",
    415: "Content-Type is not application/json (UTF-8)",
    503: "DynamoDB kept throttling (or a webhook's secret or queue did not answer) and nothing was written; retry after Retry-After seconds",
}


def responses(ok: dict[int, tuple[str, str]], *refusals: int) -> dict[int, dict]:
    """An operation's ``responses``: ``ok`` maps each success status to (description, schema name).

    >>> sorted(responses({200: ("One entry", "EntryDetail")}, 400, 404))
    [200, 400, 404]
    """
    answers: dict[int, dict] = {
        status: {"description": text, "content": {"application/json": {"schema": {"$ref": REF + name}}}}
        for status, (text, name) in ok.items()
    }
    for status in refusals:
        answers[status] = {"description": REFUSALS[status], "content": {"application/json": {"schema": {"$ref": REF + "Error"}}}}
        if status == 503:
            answers[status]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return answers
