"""The activity log domain package: one copy, shipped as the Lambda layer.

Modules, one concern each:

- ``entry``     the entry and its vocabulary (types, statuses, actors, entities)
- ``rules``     the entry's rules: a new entry from a writer's document, job updates, metadata merge
- ``inputs``    what writers send (pydantic models; imported by writes only)
- ``ids``       ULID entry ids and the date-range bounds built from them
- ``keys``      the DynamoDB key design: key formats, shards, every index's keys
- ``query``     the list: ``filters`` (the five axes), ``planner`` (which key-exact
                queries), ``merge`` (their lazy newest-first merge), ``cursor`` (signed page cursors)
- ``scopes``    which token scopes may call each route (template.yaml's list)
- ``diff``      field-level before/after changes
- ``details``   an entry's detail: compressed, offloaded to S3 when large
- ``store``     all data access (pynamodb model, reads, writes), answering ``Entry`` objects
- ``service``   the operations the handlers call, given settings, a store and a clock
- ``config``    ``Settings``: every environment variable a function reads, one field each
- ``wiring``    the container (settings parsed once, shared objects built once) and every function's entrypoint

A function asks its container for what it needs (``activitylog.wiring.container().service``) and calls
an operation with the verified caller: ``service.list(caller, parse_list_request(parameters))``.
"""
