"""A runner of SAM templates on one machine: DynamoDB Local, moto, and the template's own wiring.

Generic: it imports nothing of the product it runs (tests/local/test_samlocal.py checks).
``stack.LocalStack`` reads the template (``template``, ``intrinsics``), creates its resources
(``dynamodb``, ``durable``, ``outbox``), runs its functions in execution environments
(``lambdas``, ``environments``, ``bootstrap``, ``context``, ``endpoint``, ``faults``), feeds them
(``gateway``, ``auth``, ``sources``, ``schedules``) and serves HTTP (``server``, ``site``).
"""
