"""The HTTP side of the service, shared by the API's functions (Powertools routers).

Each function under ``functions/`` builds its own resolver from these routers, so a
route's code exists once however the functions are cut:

- ``reads``    GET /activities, GET /activities/{id}, GET /activities/{id}/related: no pydantic, the dashboard's hot path
- ``writes``   POST /activities, POST /activities/batch, PATCH /activities/{id}: bodies
               checked strictly, then validated by Powertools with the ``inputs`` models
- ``retry``    POST /activities/{id}/retry: its own function (activity:retry), no body
- ``settings`` GET/PUT /settings/retention: an org's retention policy, for its admins
- ``support``  GET /support/activities/{id}: an entry from the hot table or the archive
- ``common``   the caller from verified claims, the service, errors as ``{message, field}``
- ``document`` the OpenAPI document of them all

>>> from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
>>> from activitylog.api import common, reads
>>> app = APIGatewayHttpResolver()  # functions/query/app.py
>>> app.include_router(reads.routes())
>>> common.answer_errors(app)
"""
