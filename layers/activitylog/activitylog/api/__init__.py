"""The HTTP side of the service, shared by the API's functions (Powertools routers).

Each function under ``functions/`` builds its own resolver from these routers, so a
route's code exists once however the functions are cut:

- ``reads``    GET /activities, GET /activities/{id}: no pydantic, the dashboard's hot path
- ``writes``   POST /activities, POST /activities/batch, PATCH /activities/{id}: bodies
               checked strictly, then validated by Powertools with the ``inputs`` models
- ``settings`` GET/PUT /settings/retention: an org's retention policy, for its admins
- ``support``  GET /support/activities/{id}: an entry from the hot table or the archive
- ``common``   the caller from verified claims, the service, errors as ``{message, field}``
- ``document`` the OpenAPI document of them all

>>> app = APIGatewayHttpResolver()
>>> app.include_router(reads.router)
>>> common.answer_errors(app)
"""
