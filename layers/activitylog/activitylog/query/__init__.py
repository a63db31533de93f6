"""Answering the Activity Logs page's list: filters in, one merged page and a cursor out.

- ``filters``  the five filter axes parsed from a request, with field-named errors
- ``planner``  which key-exact queries (branches) answer a filter set
- ``merge``    the lazy newest-first merge of those branches, within a read budget
- ``cursor``   opaque, signed page cursors holding the merge's position

>>> from activitylog.query import parse_list_request, plan_query
>>> request = parse_list_request({"type": "BACKGROUND_JOB", "status": "FAILED"})
>>> plan = plan_query("org_1", shards=2, types=request.filter.types, statuses=request.filter.statuses)
>>> plan.index, [branch.hash_key for branch in plan.branches]
('by_type', ['org_1#0#BACKGROUND_JOB', 'org_1#1#BACKGROUND_JOB'])

``merge_newest_first(plan.branches, fetch, request.limit)`` then reads them, ``fetch`` being the store's one Query.
"""

from activitylog.query.cursor import Key, Position, StaticKey
from activitylog.query.filters import PARAMETERS, ActivityFilter, ListRequest, parse_list_request
from activitylog.query.merge import MAX_QUERY_LIMIT, Fetch, Fetched, Page, merge_newest_first
from activitylog.query.planner import Branch, Plan, plan_query

__all__ = [
    "PARAMETERS",
    "MAX_QUERY_LIMIT",
    "ActivityFilter",
    "ListRequest",
    "parse_list_request",
    "Branch",
    "Plan",
    "plan_query",
    "Fetch",
    "Fetched",
    "Page",
    "merge_newest_first",
    "Key",
    "Position",
    "StaticKey",
]
