"""The activity log domain package: one copy, shipped as the Lambda layer.

Modules, one concern each:

- ``entry``     the entry and its vocabulary (types, statuses, actors, entities)
- ``ids``       ULID entry ids and the date-range bounds built from them
- ``keys``      the DynamoDB key design: shards, indexes, query branches
- ``filters``   the five filter axes parsed from a request, with field-named errors
- ``cursor``    opaque, signed page cursors
- ``scopes``    which token scopes may call each route (template.yaml's list)
- ``merge``     the lazy newest-first merge of many key-exact queries
- ``diff``      field-level before/after changes
- ``bodies``    compression and S3 offload of large entry details
- ``store``     all data access (pynamodb model, reads, writes)
- ``service``   the operations the handlers call
"""
