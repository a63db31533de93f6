"""What the API answers, as JSON Schema for its OpenAPI document: every status a route really
gives, with its body. Plain dicts (no pydantic), so the read routes can declare them too.

The bodies are ``Entry.list_view``, ``views.detail_view``, ``ListResult.to_dict``, the batch result
of ``ActivityService.record_batch`` and ``ActivityLogError.to_dict``; the fuzz tier checks
every answer against these schemas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from activitylog.entry import ActorKind, EntityType, EntryType, Status

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

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
        "properties": {
            "kind": {"enum": [m.value for m in ActorKind]},
            "id": {"type": "string"},
            "name": {"type": "string"},
        },
    },
    "action": {"type": "string"},
    "event": {"type": "string"},
    "entity": {
        "type": ["object", "null"],
        "required": ["type", "id"],
        "properties": {
            "type": {"enum": [m.value for m in EntityType]},
            "id": {"type": "string"},
            "label": {"type": "string"},
        },
    },
}

# Not among the required list columns: only a retried entry's row carries it.
_RETRIED = {
    "retried": {
        "type": "object",
        "required": ["run_id", "status", "finished_at"],
        "properties": {
            "run_id": {"type": "string", "description": "the latest retry run's entry id"},
            "status": {"enum": [member.value for member in Status]},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
        "description": "a retried FAILED or WARNING entry: what became of its latest retry run",
    }
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
    "ListItem": {"type": "object", "required": list(_LIST_COLUMNS), "properties": {**_LIST_COLUMNS, **_RETRIED}},
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
        "required": [
            *_LIST_COLUMNS,
            "recorded_at",
            "changes",
            "metadata",
            "error",
            "correlation_id",
            "retry_of",
            "source",
            "recorded_by",
            "expires_at",
        ],
        "properties": {
            **_LIST_COLUMNS,
            **_RETRIED,
            "reason": {
                "type": ["object", "null"],
                "required": ["message", "recorded"],
                "properties": {"message": {"type": "string"}, "recorded": {"type": "boolean"}},
                "description": "a FAILED or WARNING entry: why (its error's message, or its warnings), or "
                '"no reason was recorded" with recorded false; null for any other status',
            },
            "recorded_at": {"type": ["string", "null"], "format": "date-time"},
            "changes": _NULLABLE_OBJECT,
            "metadata": _NULLABLE_OBJECT,
            "error": _NULLABLE_OBJECT,
            "correlation_id": _NULLABLE_STRING,
            "trace_id": {"type": ["string", "null"], "description": "W3C trace id of the write's traceparent"},
            "span_id": {"type": ["string", "null"], "description": "W3C parent id of the write's traceparent"},
            "retry_of": _NULLABLE_STRING,
            "source": _NULLABLE_OBJECT,
            "recorded_by": _NULLABLE_STRING,
            "expires_at": {"type": ["integer", "null"], "description": "epoch seconds"},
            "retry": {
                "type": ["object", "null"],
                "required": ["allowed"],
                "properties": {"allowed": {"type": "boolean"}, "reason": {"type": "string"}},
                "description": "for a FAILED or WARNING job or outgoing webhook, whether POST …/retry may run it again, "
                "and if not, why (null for any other entry)",
            },
        },
    },
    "RelatedChain": {
        "type": "object",
        "required": ["correlation_id", "items", "complete"],
        "properties": {
            "correlation_id": {
                "type": "string",
                "description": "the chain: the entries' correlation_id (or the id of the entry that began it)",
            },
            "items": {"type": "array", "items": {"$ref": REF + "ListItem"}, "description": "oldest first"},
            "complete": {
                "type": "boolean",
                "description": "false past 500 entries: page on with GET /activities?correlation_id=…",
            },
        },
    },
    "MemberList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "string", "description": "the member's id: the list's `user` filter"},
                        "name": {"type": "string", "description": "as their latest entry named them"},
                    },
                },
            },
        },
    },
    "Catalog": {
        "type": "object",
        "required": ["types", "statuses", "entity_types", "actions", "events", "job_types"],
        "properties": {
            **{
                name: {"type": "array", "description": what, "items": {"$ref": "#/components/schemas/Labelled"}}
                for name, what in (
                    ("types", "the list's `type` filter"),
                    ("statuses", "the list's `status` filter"),
                    ("entity_types", "the list's `entity_type` filter"),
                )
            },
            "actions": {
                "type": "array",
                "description": "each (type, action) the org's log has seen, most used first",
                "items": {
                    "type": "object",
                    "required": ["type", "action", "count", "last_seen"],
                    "properties": {
                        "type": {"type": "string"},
                        "action": {"type": "string"},
                        "count": {"type": "integer", "description": "entries recorded with it (may lag a minute)"},
                        "last_seen": {
                            "type": "string",
                            "format": "date-time",
                            "description": "its latest entry's time",
                        },
                    },
                },
            },
            "events": {
                "type": "array",
                "description": "each webhook event the org's log has seen, most used first",
                "items": {
                    "type": "object",
                    "required": ["event", "count", "last_seen"],
                    "properties": {
                        "event": {"type": "string"},
                        "count": {"type": "integer"},
                        "last_seen": {"type": "string", "format": "date-time"},
                    },
                },
            },
            "job_types": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "label", "retryable"],
                    "properties": {
                        "name": {"type": "string"},
                        "label": {"type": "string"},
                        "retryable": {"type": "boolean", "description": "whether Retry can run a failed one again"},
                    },
                },
            },
        },
    },
    "Labelled": {
        "type": "object",
        "required": ["value", "label"],
        "properties": {"value": {"type": "string"}, "label": {"type": "string"}},
    },
    "RetryAccepted": {
        "type": "object",
        "required": ["id", "run_id", "retry_of", "job", "correlation_id"],
        "properties": {
            "id": {
                "type": "string",
                "description": 'the caller\'s USER_ACTION entry "Retried …" (recorded within seconds)',
            },
            "run_id": {"type": "string", "description": "the new run's entry id: it appears once the job starts"},
            "retry_of": {"type": "string", "description": "the entry retried"},
            "job": {"type": "string", "description": "the job type run again"},
            "correlation_id": {"type": "string", "description": "the chain the retry and its run join"},
        },
    },
    "SupportEntry": {
        "type": "object",
        "required": [*_LIST_COLUMNS, "found_in", "versions", "expired_at", "removed_at"],
        "properties": {
            **_LIST_COLUMNS,
            "found_in": {
                "enum": ["hot", "archive"],
                "description": "the table (listed, or past retention but not yet removed) or the S3 archive",
            },
            "versions": {"type": ["integer", "null"], "description": "versions the archive holds (archive only)"},
            "expired_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "when TTL removed it from the table",
            },
            "removed_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "when someone deleted it from the table",
            },
        },
    },
    "ArchiveQueryRecord": {
        "type": "object",
        "required": ["id", "org_id"],
        "properties": {
            "id": {"type": "string", "description": "the SYSTEM_EVENT that records the query in the org's log"},
            "org_id": {"type": "string", "description": "the org it is recorded in (the token's): the org to query"},
        },
    },
    "ProofBundle": {
        "type": "object",
        "description": "canonical JSON and one newline, checked byte for byte by the README's offline script (docs/check_proof.py)",
        "required": ["format", "org", "id", "versions", "checkpoint", "public_key"],
        "properties": {
            "format": {"const": 1},
            "org": {"type": "string"},
            "id": {"type": "string"},
            "versions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["line", "index", "path"],
                    "properties": {
                        "line": {"type": "string", "description": "the archived version, byte for byte"},
                        "index": {"type": "integer", "description": "its leaf in the org's Merkle tree"},
                        "path": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "RFC 9162 inclusion path, hex",
                        },
                    },
                },
            },
            "checkpoint": {
                "type": "object",
                "description": "the newest signed checkpoint: tree_size, root, time, signature",
            },
            "public_key": {"type": "string", "description": "the signing key, DER SubjectPublicKeyInfo in base64"},
        },
    },
    "Erasure": {
        "type": "object",
        "required": ["id", "erased_at", "subject", "entries", "key_found"],
        "properties": {
            "id": {"type": "string", "description": "the erasure's own entry (a SYSTEM_EVENT)"},
            "erased_at": {"type": "string", "format": "date-time"},
            "subject": {
                "type": "object",
                "required": ["kind", "pseudonym"],
                "properties": {
                    "kind": {"enum": ["user", "contact"]},
                    "pseudonym": {"type": "string", "description": "a keyed fingerprint of the subject, never its id"},
                },
            },
            "entries": {"type": "integer", "minimum": 0, "description": "entries sealed under the destroyed key"},
            "key_found": {
                "type": "boolean",
                "description": "false: no key was held (never recorded, or erased already)",
            },
        },
    },
    "RetentionPolicy": {
        "type": "object",
        "required": ["hot_days", "archive_days", "updated_at", "updated_by", "existing"],
        "properties": {
            "hot_days": {"type": "integer", "description": "days an entry stays in the table and the dashboard"},
            "archive_days": {"type": "integer", "description": "days the S3 archive keeps each version it wrote"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_by": _NULLABLE_STRING,
            "existing": {
                "type": "object",
                "description": "how far the last change has been applied to the entries and archive objects that existed before it",
                "required": ["state", "entries_updated", "archive_objects_updated"],
                "properties": {
                    "state": {"enum": ["pending", "running", "done"]},
                    "entries_updated": {"type": "integer", "minimum": 0},
                    "archive_objects_updated": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
    "PrivacySettings": {
        "type": "object",
        "required": ["patterns", "defaults", "updated_at", "updated_by"],
        "properties": {
            "patterns": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the org's masked fields: JSON Pointers, * one segment, ** any number (/ssn, /**/password)",
            },
            "defaults": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the built-in ones, always masked",
            },
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_by": _NULLABLE_STRING,
        },
    },
    "Stream": {
        "type": "object",
        "required": ["id", "name", "destination", "filter", "format", "status", "secret", "created_at", "state"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "destination": {
                "type": "object",
                "required": ["kind"],
                "description": "kind (https, s3, splunk, datadog) and its settings; never its secret",
            },
            "filter": {"type": "object", "description": "the list's filter keys, each a list of values"},
            "format": {"enum": ["native", "ocsf", "cloudevents"]},
            "status": {"enum": ["ACTIVE", "PAUSED"]},
            "secret": {"enum": ["set", "none"]},
            "notify_email": _NULLABLE_STRING,
            "created_at": {"type": "string", "format": "date-time"},
            "created_by": {"type": "string"},
            "paused_reason": _NULLABLE_STRING,
            "state": {
                "type": "object",
                "required": ["status", "lag_seconds", "last_delivery", "last_error"],
                "properties": {
                    "status": {"enum": ["ACTIVE", "PAUSED"]},
                    "lag_seconds": {"type": "integer", "minimum": 0, "description": "age of the oldest waiting entry"},
                    "last_delivery": _NULLABLE_OBJECT,
                    "last_error": _NULLABLE_OBJECT,
                    "failing_since": {"type": ["string", "null"], "format": "date-time"},
                    "paused_reason": _NULLABLE_STRING,
                    "backfill": _NULLABLE_OBJECT,
                },
            },
        },
    },
    "StreamList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": REF + "Stream"}}},
    },
    "StreamDeleted": {
        "type": "object",
        "required": ["id", "deleted"],
        "properties": {"id": {"type": "string"}, "deleted": {"const": True}},
    },
    "StreamTest": {
        "type": "object",
        "required": ["ok", "status", "detail"],
        "properties": {
            "ok": {"type": "boolean"},
            "status": {"type": ["integer", "null"]},
            "detail": {"type": "string"},
        },
    },
    "Alert": {
        "type": "object",
        "required": ["id", "name", "filter", "destination", "status", "secret", "owner", "created_at", "state"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "filter": {"type": "object", "description": "the list's filter keys, each a list of values"},
            "destination": {
                "type": "object",
                "required": ["kind"],
                "description": "kind email (to: the owner's address) or https (url); never its secret",
            },
            "status": {"enum": ["ACTIVE", "PAUSED"]},
            "secret": {"enum": ["set", "none"]},
            "signing_secret": {"type": "string", "description": "on create only, when the service made it"},
            "owner": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "paused_reason": _NULLABLE_STRING,
            "state": {
                "type": "object",
                "required": ["pending", "due_at", "last_notified_at"],
                "properties": {
                    "pending": {"type": "integer", "minimum": 0, "description": "new entries waiting to be told"},
                    "due_at": {"type": ["string", "null"], "format": "date-time"},
                    "last_notified_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
    "AlertList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": REF + "Alert"}}},
    },
    "AlertDeleted": {
        "type": "object",
        "required": ["id", "deleted"],
        "properties": {"id": {"type": "string"}, "deleted": {"const": True}},
    },
    "BulkRetryPreview": {
        "type": "object",
        "required": ["preview", "filters", "as_of", "matched", "retryable", "skipped"],
        "properties": {
            "preview": {"const": True, "description": "nothing was retried: send it again with confirm true"},
            "filters": {"type": "object", "description": "the filter as frozen: from and to absolute"},
            "as_of": {"type": "string", "format": "date-time", "description": "entries recorded later are left out"},
            "matched": {"type": "integer", "minimum": 0},
            "retryable": {"type": "integer", "minimum": 0, "description": "of them, those the Retry button retries"},
            "skipped": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "the rest, counted by the Retry button's reason for refusing them",
            },
        },
    },
    "BulkRetry": {
        "type": "object",
        "required": ["id", "name", "requested_by", "filters", "status", "matched", "started", "failed", "skipped"],
        "properties": {
            "id": {"type": "string", "description": "the bulk retry's own entry (BACKGROUND_JOB BULK_RETRY)"},
            "name": {"type": "string"},
            "requested_by": {"type": "object"},
            "filters": {"type": "object", "description": "the filter as frozen when it was asked for"},
            "as_of": _NULLABLE_STRING,
            "status": {"enum": ["RUNNING", "CANCELLED", "DONE", "FAILED"]},
            "matched": {"type": "integer", "minimum": 0},
            "retryable": {"type": ["integer", "null"], "description": "as the preview counted them"},
            "started": {"type": "integer", "minimum": 0, "description": "retries asked for, one per original"},
            "failed": {"type": "integer", "minimum": 0, "description": "retries the bus did not take"},
            "skipped": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "by reason"},
            "cancelled_by": _NULLABLE_STRING,
            "entry_status": {"type": "string"},
        },
    },
    "BulkRetryList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": REF + "BulkRetry"}}},
    },
    "WebhookRecovery": {
        "type": "object",
        "required": ["provider", "from", "to", "preview", "available", "missing", "already_recorded"],
        "properties": {
            "provider": {"type": "string"},
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            "preview": {"type": "boolean", "description": "true: counted only, nothing recorded"},
            "available": {"type": "integer", "minimum": 0, "description": "the provider's events of the window"},
            "missing": {"type": "integer", "minimum": 0, "description": "of them, those the log does not hold"},
            "already_recorded": {"type": "integer", "minimum": 0},
            "recorded": {"type": "integer", "minimum": 0, "description": "recorded now (not in a preview)"},
            "id": {"type": "string", "description": "the recovery's own SYSTEM_EVENT entry (not in a preview)"},
        },
    },
    "WebhookReceived": {
        "type": "object",
        "required": ["received", "event_id"],
        "properties": {
            "received": {"const": True},
            "event_id": {
                "type": "string",
                "description": "the provider's event id; recorded once however often it arrives",
            },
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
    "Export": {
        "type": "object",
        "required": ["export_id", "status", "rows", "bytes", "filters", "requested_at", "download_url"],
        "properties": {
            "export_id": {"type": "string", "description": "also the id of the activity entry that records the export"},
            "status": {"enum": [Status.IN_PROGRESS.value, Status.SUCCESS.value, Status.FAILED.value]},
            "rows": {"type": "integer", "minimum": 0, "description": "rows written so far"},
            "bytes": {"type": "integer", "minimum": 0, "description": "bytes written so far"},
            "parts": {"type": ["integer", "null"], "description": "S3 multipart parts written so far"},
            "sha256": {**_NULLABLE_STRING, "description": "of the whole file, once complete"},
            "delivery": {
                "enum": ["inline", "email", None],
                "description": "inline: answered at once; email: the link is mailed",
            },
            "filters": {"type": "object", "description": "the filter set as given"},
            "window": {**_NULLABLE_OBJECT, "description": "the date range the filters resolved to when asked"},
            "requested_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {**_NULLABLE_STRING, "description": "why it failed"},
            "download_url": {
                **_NULLABLE_STRING,
                "description": "once SUCCESS (email delivery): a link valid for an hour",
            },
        },
    },
}

REFUSALS: dict[int, str] = {
    400: "Bad input; `field` names the parameter, header or body field",
    401: "No valid token (the authorizer), or a token without org_id and sub",
    403: "The token lacks the route's scope",
    404: "No such entry (or export) in the caller's organization, no such route, or no webhook of that provider set up for the organization",
    409: (
        "An Idempotency-Key reused with another body or still running (that one with Retry-After: send the same request "
        "again then), a finished job changed, a policy changed meanwhile, or an entry that cannot be retried"
    ),
    413: "The body is over the route's limit in bytes",
    410: "The download link expired",
    415: "Content-Type is not application/json (UTF-8)",
    503: (
        "DynamoDB kept throttling or did not answer (or a webhook's secret or queue, or for a retry the event bus, did not "
        "answer) and nothing was written; retry after Retry-After seconds"
    ),
}


def responses(ok: dict[int, tuple[str, str]], *refusals: int) -> dict[int, OpenAPIResponse]:
    """An operation's ``responses``: ``ok`` maps each success status to (description, schema name).

    >>> sorted(responses({200: ("One entry", "EntryDetail")}, 400, 404))
    [200, 400, 404]
    """
    answers: dict[int, OpenAPIResponse] = {
        status: {"description": text, "content": {"application/json": {"schema": {"$ref": REF + name}}}}
        for status, (text, name) in ok.items()
    }
    for status in refusals:
        answers[status] = {
            "description": REFUSALS[status],
            "content": {"application/json": {"schema": {"$ref": REF + "Error"}}},
        }
        if status == 503:
            answers[status]["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        elif status == 409:
            answers[status]["headers"] = {
                "Retry-After": {
                    "description": "an Idempotency-Key still running only: seconds to wait "
                    "before sending the same request again",
                    "schema": {"type": "integer"},
                }
            }
    return answers
